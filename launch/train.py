"""`gcml train --mode=triplet|clc|contrastive --train_data=GLOB --model_dir=DIR [flags]`.

`--preset=paper|demo` (default demo) sets the mode's values (paper: the GCML /
CLC papers' optimizer, learning rate, decay, margin, batch, sampled classes
and the 4000/256 network); any flag given explicitly overrides the preset.
`--export_only` re-exports the SavedModel from the latest checkpoint.
Bad configurations fail before training with one line (exit 2), and so does a
non-finite loss, gradient or variable during training (`--on_nonfinite=stop`).
"""

import argparse
import logging
import sys

from launch import logs

# Flags whose value maps 1:1 to a TrainConfig field; None = not given.
_FIELDS = {
    "mode": str, "train_data": str, "eval_data": str, "model_dir": str, "strategy": str,
    "tpu": str, "batch_size": int, "train_steps": int, "optimizer": str,
    "learning_rate": float, "decay_rate": float, "decay_steps": int, "margin": float,
    "mining": str, "num_sampled": int, "num_classes": int, "sampler": str, "temperature": float,
    "checkpoint_every": int, "summary_every": int, "eval_every": int, "eval_steps": int,
    "steps_per_loop": int, "on_nonfinite": str,
    "max_checkpoints": int, "validation_data": str, "validate_every": int, "patience": int,
    "selection_metric": str, "level_schedule": str,
    "shuffle_buffer": int, "seed": int,
    # model
    "modalities": str, "hidden_units": str, "embedding_dim": int, "fusion": str,
    "tower": str, "input_norm": str, "dropout": float,
}


def parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(prog="gcml train", description=__doc__.splitlines()[0])
  for name, kind in _FIELDS.items():
    p.add_argument(f"--{name}", type=kind, default=None)
  p.add_argument("--deterministic", action="store_true", default=None,
                 help="bit-identical weights for the same data, seed and strategy (slower input)")
  p.add_argument("--cluster_masking", action="store_true", default=None,
                 help="contrastive: same-cluster in-batch negatives are not negatives (the "
                 "triplets need gcml examples --cluster_id_level)")
  p.add_argument("--preset", choices=("paper", "demo"), default="demo")
  p.add_argument("--export_only", action="store_true",
                 help="export model_dir/export from the latest checkpoint and exit")
  return p


def config_from_argv(argv: list[str]):
  """Parses the flags into a validated TrainConfig (ConfigError if bad)."""
  import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
  from model.trainer_config import TrainConfig

  args = parser().parse_args(argv)
  explicit = {k: getattr(args, k) for k in (*_FIELDS, "deterministic", "cluster_masking")
              if getattr(args, k) is not None}
  return TrainConfig.from_flags(preset=args.preset, **explicit).validate(), args


def main(argv: list[str]) -> int:
  logs.setup()
  config, args = config_from_argv(argv)
  from model import strategies, trainer

  if not args.export_only and strategies.serve_cluster_task(config.strategy):
    return 0  # a worker or ps task of a parameter-server cluster: served until stopped
  if not args.export_only:
    from model import data_split  # pylint: disable=import-outside-toplevel
    data_split.record_split(config.model_dir, [config.train_data, config.eval_data,
                                               config.validation_data])
  if args.export_only:
    path = trainer.export(config)
    print(f"exported {path}")
    return 0
  result = trainer.train(config)
  logging.info("trained steps %d..%d, last loss %s", result.start_step, result.final_step,
               result.last_metrics.get("loss"))
  if result.export_dir:
    print(f"exported {result.export_dir}")
  else:
    print(f"stopped at step {result.final_step}; checkpoint saved in {config.model_dir}")
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("train", sys.argv[1:]))
