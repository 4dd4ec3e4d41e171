"""`gcml synth --output_dir=DIR [--preset=planted] [--num_items=N] [--seed=0] ...`: a synthetic world.

One flag per SynthConfig field. A preset sets some fields; a flag given on the
command line wins over the preset's value, and a field neither sets keeps its
default.
"""

import argparse
import dataclasses
import json
import sys

from launch import logs
from pipelines.io import features
from pipelines import synth
from pipelines import runner
from pipelines.config_flags import attribute_help
from pipelines.errors import InputError


def _shown(name: str, value) -> str:
  """A field's value as its flag takes it."""
  if name == "modalities":
    return features.modalities_flag(value)
  return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _preset_note(name: str) -> str:
  """Which presets set a field, for the flag's help."""
  values = [f"{p}={_shown(name, preset.fields[name])}" for p, preset in synth.PRESETS.items()
            if name in preset.fields]
  return f"; presets: {', '.join(values)}" if values else ""


def _parse_tuple(name: str, text: str, default: tuple) -> tuple:
  kind = type(default[0])
  try:
    return tuple(kind(x) for x in text.split(","))
  except ValueError:
    raise InputError(f"--{name} takes comma-separated {'integers' if kind is int else 'numbers'}"
                     f", got {text!r}") from None


def parse_args(argv) -> tuple[synth.SynthConfig, str]:
  """Parses the flags into the preset's config with the given flags on top.

  Args:
    argv: the command line after `gcml synth`.

  Returns:
    (config, output directory).
  """
  default = synth.SynthConfig()
  p = argparse.ArgumentParser(prog="gcml synth", description=synth.__doc__.splitlines()[0],
                              allow_abbrev=False)
  p.add_argument("--output_dir", required=True)
  p.add_argument("--preset", default=synth.DEFAULT_PRESET,
                 help="; ".join(f"{name}: {preset.summary}" for name, preset in synth.PRESETS.items()))
  fields = [f for f in dataclasses.fields(synth.SynthConfig) if f.name != "preset"]
  helps = attribute_help(synth.SynthConfig)
  for f in fields:
    value = getattr(default, f.name)
    kwargs = {"action": argparse.BooleanOptionalAction} if isinstance(value, bool) else {
        "type": type(value) if isinstance(value, (int, float)) else str}
    text = f"{helps.get(f.name, '')} (default {_shown(f.name, value)}{_preset_note(f.name)})"
    p.add_argument(f"--{f.name}", default=None, help=text.replace("%", "%%").lstrip(), **kwargs)
  a = runner.parse_flags(p, argv)
  overrides = {}
  for f in fields:
    given = getattr(a, f.name)
    if given is None:
      continue
    if f.name == "modalities":
      given = features.parse_modalities(given)
    elif isinstance(getattr(default, f.name), tuple):
      given = _parse_tuple(f.name, given, getattr(default, f.name))
    overrides[f.name] = given
  return synth.config_for(a.preset, **overrides), a.output_dir


def main(argv: list[str]) -> int:
  """`gcml synth`: generates a world and prints its figures.

  Args:
    argv: the flags after `gcml synth`.

  Returns:
    The exit status (0).
  """
  logs.setup()
  config, output_dir = parse_args(argv)
  stats = synth.generate(config, output_dir)
  print(json.dumps({k: stats[k] for k in ("preset", "items", "edge_lines", "micro_clusters",
                                          "degree", "seconds")}))
  frames = "frames-*.tfrecord, " if config.frames else ""
  print(f"synth: wrote {output_dir}/edges-*.csv, features-*.tfrecord, {frames}hierarchy-*.tsv, "
        "synth.json")
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("synth", sys.argv[1:]))
