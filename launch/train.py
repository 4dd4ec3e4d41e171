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
Issue 18 (docs/frames.md): `--mode=temporal_contrastive` pre-trains on
frame-level files (`--train_data`, modalities from their feature lists);
`--init_from=DIR` starts a fresh run from a pre-trained network.
"""

import argparse
import functools
import logging
import sys

import model  # noqa: F401  pylint: disable=unused-import  (TF_USE_LEGACY_KERAS before TensorFlow)
from launch import logs
from pipelines import config_flags, runner


def _preset_text(name: str) -> str:
  """What the demo preset gives a flag that is not given, for `--help`."""
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  config = TrainConfig.from_flags(preset="demo")
  path = config_flags.nested_fields(TrainConfig)[name][0]
  value = functools.reduce(getattr, path, config)
  if name == "modalities":
    return " [default: what `gcml examples` recorded beside --train_data]"
  if isinstance(value, tuple):
    value = ",".join(str(v) for v in value)
  return "" if value in (None, "", ()) else f" [demo preset: {value}]"


def parser() -> argparse.ArgumentParser:
  """`gcml train`'s parser: a flag per data, trainer and runtime field and per network
  field it exposes (`NETWORK_FLAGS`), flat names in `FLAT_KEYS` order.

  Every flag defaults to None: a flag not given keeps the preset's value
  (`--help` shows the demo preset's).

  Returns:
    The parser.
  """
  from model import train_presets  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  from model.trainer_config_flags import NETWORK_FLAGS  # pylint: disable=import-outside-toplevel
  from model.trainer_config_groups import FLAT_KEYS  # pylint: disable=import-outside-toplevel

  p = argparse.ArgumentParser(prog="gcml train", description=__doc__.splitlines()[0],
                              allow_abbrev=False)
  config_flags.add_override_flags(p, [(TrainConfig, FLAT_KEYS + NETWORK_FLAGS)], _preset_text)
  p.add_argument("--preset", choices=tuple(train_presets.PRESETS), default="demo",
                 help="the network and per-mode values to start from (model/train_presets.py)")
  p.add_argument("--export_only", action="store_true",
                 help="export model_dir/export (the best validation step, else the latest "
                 "checkpoint) and exit")
  return p


def _config_flag_names() -> tuple[str, ...]:
  """The flags that set a TrainConfig (or network) field, in `--help` order."""
  return tuple(a.dest for a in parser()._actions  # pylint: disable=protected-access
               if a.option_strings and a.dest not in ("help", "preset", "export_only"))


# Flags whose value maps 1:1 to a config field; None = not given (the preset's value).
_FIELDS = _config_flag_names()


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
  explicit = {k: getattr(args, k) for k in _FIELDS if getattr(args, k) is not None}
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
  input_modalities.resolve(resolved, input_kind(config.trainer.mode))
  if resolved != explicit:
    config = TrainConfig.from_flags(preset=preset, **resolved).validate()
  return config


def main(argv: list[str]) -> int:
  """`gcml train`: trains (or, with `--export_only`, exports) and says where the model is.

  Args:
    argv: the flags after `gcml train`.

  Returns:
    The exit status (0; errors are raised and reported by `launch.main`).
  """
  logs.setup()
  config, args = config_from_argv(argv)
  from model import strategies, trainer

  if not args.export_only and strategies.serve_cluster_task(config.runtime.strategy):
    return 0  # a worker or ps task of a parameter-server cluster: served until stopped
  if not args.export_only:
    from model import data_split  # pylint: disable=import-outside-toplevel
    data_split.record_split(config.runtime.model_dir, [config.data.train_data,
                                                       config.data.eval_data,
                                                       config.data.validation_data])
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
    print(f"stopped at step {result.final_step}; checkpoint saved in {config.runtime.model_dir}")
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("train", sys.argv[1:]))
