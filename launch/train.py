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
import dataclasses
import logging
import sys
import typing

import model  # noqa: F401  pylint: disable=unused-import  (TF_USE_LEGACY_KERAS before TensorFlow)
from launch import logs
from pipelines import config_flags, runner
from pipelines.config_flags import attribute_help

# The network's fields that have a flag (the rest keep the preset's network).
_MODEL_FLAGS = ("modalities", "hidden_units", "embedding_dim", "fusion", "tower", "input_norm",
                "dropout", "pull_to_init")
# Switches: given means True; not given keeps the preset's value.
_SWITCHES = ("deterministic", "cluster_masking")


def _flag_types() -> dict[str, type]:
  """Flag name -> argparse type, one per TrainConfig field (and the network's `_MODEL_FLAGS`)."""
  from model.config import EmbeddingModelConfig  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel

  train_types = typing.get_type_hints(TrainConfig)
  model_types = typing.get_type_hints(EmbeddingModelConfig)
  types = {f.name: config_flags.flag_type(train_types[f.name])[0]
           for f in dataclasses.fields(TrainConfig) if f.name != "model"}
  types.update({name: config_flags.flag_type(model_types[name])[0] for name in _MODEL_FLAGS})
  return {name: kind for name, kind in types.items() if name not in _SWITCHES}


# Flags whose value maps 1:1 to a config field; None = not given (the preset's value).
_FIELDS = _flag_types()


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
  from model.config import EmbeddingModelConfig  # pylint: disable=import-outside-toplevel
  from model import train_presets  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel

  helps = attribute_help(TrainConfig, EmbeddingModelConfig)
  p = argparse.ArgumentParser(prog="gcml train", description=__doc__.splitlines()[0])
  for name, kind in _FIELDS.items():
    p.add_argument(f"--{name}", type=kind, default=None,
                   help=helps.get(name, "").replace("%", "%%") + _default_text(name))
  for name in _SWITCHES:
    p.add_argument(f"--{name}", action="store_true", default=None,
                   help=helps.get(name, "").replace("%", "%%"))
  p.add_argument("--preset", choices=tuple(train_presets.PRESETS), default="demo",
                 help="the network and per-mode values to start from (model/train_presets.py)")
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
  args = runner.parse_flags(parser(), argv)
  explicit = {k: getattr(args, k) for k in (*_FIELDS, *_SWITCHES)
              if getattr(args, k) is not None}
  return config_from_values(args.preset, explicit, read_inputs), args


def config_from_values(preset: str, explicit: dict, read_inputs: bool = True):
  """The validated TrainConfig of a preset with the given values on top (ConfigError if bad).

  Args:
    preset: `paper` or `demo`.
    explicit: flag name -> typed value, as the user gave them.
    read_inputs: as in `config_from_argv`.

  Returns:
    The TrainConfig.
  """
  from model.trainer_config import TrainConfig

  config = TrainConfig.from_flags(preset=preset, **dict(explicit)).validate()
  if not read_inputs:
    return config
  # The flags are checked first (one line, before TensorFlow is imported), then the
  # modalities are read from the inputs' summary or records (TensorFlow's file API).
  from model import input_modalities
  from model.steps import input_kind
  resolved = dict(explicit)
  input_modalities.resolve(resolved, input_kind(config.mode))
  if resolved != explicit:
    config = TrainConfig.from_flags(preset=preset, **resolved).validate()
  return config


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
