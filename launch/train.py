"""`gcml train --mode=triplet|clc|contrastive --train_data=GLOB --model_dir=DIR [flags]`.

`--preset=paper|demo` (default demo) sets the mode's values (paper: the GCML /
CLC papers' optimizer, learning rate, decay, margin, batch, sampled classes
and the 4000/256 network); any flag given explicitly overrides the preset.
`--export_only` re-exports the SavedModel (the best validation step if the run
selected one, else the latest checkpoint).
`--modalities` defaults to the ones `gcml examples` recorded beside
`--train_data` (`model/input_modalities.py`).
Bad configurations fail before training with one line (exit 2), and so does a
non-finite loss, gradient or variable during training (`--on_nonfinite=stop`).
"""

import argparse
import logging
import re
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


def attribute_help(*classes) -> dict[str, str]:
  """Per-field help text from the `Attributes:` sections of config docstrings.

  A docstring entry may name several fields (`a / b:` or `a, b, c:`); each
  gets the entry's text. Continuation lines are joined.

  Args:
    *classes: dataclasses whose docstrings hold an `Attributes:` section.

  Returns:
    Field name -> one-line help text.
  """
  texts = {}
  for cls in classes:
    lines = [l for l in (cls.__doc__ or "").split("Attributes:", 1)[-1].splitlines()
             if l.strip()]
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    names, words = [], []
    for line in lines + [" " * indent + "end:"]:
      entry = re.match(r"^ {%d}([a-z_][a-z_0-9 ,/]*):\s*(.*)$" % indent, line)
      if entry:
        for name in names:
          texts.setdefault(name, " ".join(words))
        names = [n for n in re.split(r"[ ,/]+", entry.group(1)) if n]
        words = [entry.group(2)]
      elif names:
        words.append(line.strip())
  return texts


def _default_text(name: str) -> str:
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  config = TrainConfig.from_flags(preset="demo")
  value = getattr(config.model if hasattr(config.model, name) else config, name, None)
  if name == "modalities":
    return " [default: what `gcml examples` recorded beside --train_data]"
  if isinstance(value, tuple):
    value = ",".join(str(v) for v in value)
  return "" if value in (None, "", ()) else f" [demo preset: {value}]"


def parser() -> argparse.ArgumentParser:
  import model  # noqa: F401  pylint: disable=import-outside-toplevel,redefined-outer-name
  from model.config import EmbeddingModelConfig  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel

  helps = attribute_help(TrainConfig, EmbeddingModelConfig)
  p = argparse.ArgumentParser(prog="gcml train", description=__doc__.splitlines()[0])
  for name, kind in _FIELDS.items():
    p.add_argument(f"--{name}", type=kind, default=None,
                   help=helps.get(name, "").replace("%", "%%") + _default_text(name))
  p.add_argument("--deterministic", action="store_true", default=None,
                 help="bit-identical weights for the same data, seed and strategy (slower input)")
  p.add_argument("--cluster_masking", action="store_true", default=None,
                 help="contrastive: same-cluster in-batch negatives are not negatives (the "
                 "triplets need gcml examples --cluster_id_level)")
  p.add_argument("--preset", choices=("paper", "demo"), default="demo")
  p.add_argument("--export_only", action="store_true",
                 help="export model_dir/export (the best validation step, else the latest "
                 "checkpoint) and exit")
  return p


def config_from_argv(argv: list[str], read_inputs: bool = True):
  """Parses the flags into a validated TrainConfig (ConfigError if bad).

  Args:
    argv: the flags after `gcml train`.
    read_inputs: also fill in `--modalities`, when not given, from the inputs
      (the examples' `summary.json`, else their first record). False only
      checks the flags, touching no file.

  Returns:
    (TrainConfig, the parsed argparse namespace).
  """
  import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
  from model.trainer_config import TrainConfig

  args = parser().parse_args(argv)
  explicit = {k: getattr(args, k) for k in (*_FIELDS, "deterministic", "cluster_masking")
              if getattr(args, k) is not None}
  config = TrainConfig.from_flags(preset=args.preset, **dict(explicit)).validate()
  if not read_inputs:
    return config, args
  # The flags are checked first (one line, before TensorFlow is imported), then the
  # modalities are read from the inputs' summary or records (TensorFlow's file API).
  from model import input_modalities
  from model.steps import input_kind
  resolved = dict(explicit)
  input_modalities.resolve(resolved, input_kind(config.mode))
  if resolved != explicit:
    config = TrainConfig.from_flags(preset=args.preset, **resolved).validate()
  return config, args


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
