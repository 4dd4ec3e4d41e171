"""Pipeline options and running, shared by every pipeline's `run(argv)`.

* The DirectRunner is the default; tests pin the FnApiRunner.
* On Dataflow the workers install gcml from this checkout's `setup.py`
  (`--setup_file` is filled in unless given), and `--dry_run=True` builds and
  validates the job graph without submitting it.
* Beam is imported only when needed: a stage run on the in-memory engine
  without Beam options never loads it.
* A file that cannot be read when the runner opens it is a one-line
  `InputError`. Bad records never fail a run: readers reject them
  (`rejected.py`, `tfrecord_files.py`); other errors keep their traceback.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import logging
import pathlib
import typing

from pipelines.errors import InputError

if typing.TYPE_CHECKING:
  import apache_beam as beam
  from apache_beam.options.pipeline_options import PipelineOptions

SETUP_PY = pathlib.Path(__file__).resolve().parents[1] / "setup.py"


@functools.lru_cache(maxsize=1)
def _beam_parser() -> argparse.ArgumentParser:
  """The parser Beam builds from every PipelineOptions class (as get_all_options does)."""
  from apache_beam.options.pipeline_options import (  # pylint: disable=import-outside-toplevel
      PipelineOptions, _BeamArgumentParser)
  parser = _BeamArgumentParser(allow_abbrev=False)
  classes = {}
  for cls in PipelineOptions.__subclasses__():
    classes.setdefault(str(cls), cls)
  for cls in classes.values():
    cls._add_argparse_args(parser)  # pylint: disable=protected-access
  return parser


def _flag_names(parser: argparse.ArgumentParser) -> list[str]:
  return [s for action in parser._actions for s in action.option_strings  # pylint: disable=protected-access
          if s.startswith("--")]


def parse_stage_args(parser: argparse.ArgumentParser, argv) -> tuple[argparse.Namespace, list]:
  """Parses a stage's own flags; what is left must be a Beam pipeline option.

  Beam only warns about arguments it does not know and runs on with its
  defaults, so a misspelt stage flag (`--edge_fromat=tsv`) would be dropped
  silently. Here it is a one-line `InputError` (exit 2) with a suggestion.

  Args:
    parser: the stage's argument parser.
    argv: the command line after the subcommand.

  Returns:
    The stage's parsed flags and the arguments for `pipeline_options`.

  Raises:
    InputError: an argument that neither the stage nor Beam knows.
  """
  known, rest = parser.parse_known_args(argv)
  if not rest:  # nothing left for Beam: no need to import it
    return known, rest
  _, unknown = _beam_parser().parse_known_args(rest)
  if unknown:
    raise unknown_argument(parser, unknown[0], beam=True)
  return known, rest


def parse_flags(parser: argparse.ArgumentParser, argv) -> argparse.Namespace:
  """Parses the flags of a command that takes no Beam options (train, synth, demo).

  Args:
    parser: the command's argument parser.
    argv: the command line after the subcommand.

  Returns:
    The parsed flags.

  Raises:
    InputError: an argument the command does not know, with a suggestion.
  """
  known, unknown = parser.parse_known_args(argv)
  if unknown:
    raise unknown_argument(parser, unknown[0], beam=False)
  return known


def unknown_argument(parser: argparse.ArgumentParser, arg: str, beam: bool) -> InputError:
  """The one-line error for an unknown argument: the closest flag, else where to look.

  Every gcml parser has `allow_abbrev=False`, so a flag's prefix (`--ndcg` for
  `--ndcg_k`) is unknown too; the one flag it starts is the suggestion.

  Args:
    parser: the command's argument parser.
    arg: the first argument that parser (and Beam's, for a stage) did not take.
    beam: whether Beam's pipeline options are looked at for a suggestion too.

  Returns:
    The InputError to raise.
  """
  if not arg.startswith("--"):
    return InputError(f"unexpected argument {arg!r} (flags are --name=value)")
  name = arg.split("=", 1)[0]
  started = [flag for flag in _flag_names(parser) if flag.startswith(name)]
  close = ((started if len(started) == 1 else [])
           or difflib.get_close_matches(name, _flag_names(parser), n=1, cutoff=0.75)
           or (beam and difflib.get_close_matches(name, _flag_names(_beam_parser()), n=1,
                                                  cutoff=0.85)))
  hint = f"; did you mean {close[0]}?" if close else f"; see {parser.prog} --help"
  return InputError(f"unknown flag {name}{hint}")


def pipeline_options(pipeline_args: list[str]) -> PipelineOptions:
  """Builds PipelineOptions from the arguments the stage itself did not take.

  The DirectRunner is the default; on Dataflow, `--setup_file` is this
  checkout's setup.py unless given (or a container image is).

  Args:
    pipeline_args: the Beam options (`--runner=...`).

  Returns:
    The PipelineOptions.
  """
  from apache_beam.options.pipeline_options import (  # pylint: disable=import-outside-toplevel
      PipelineOptions, SetupOptions, StandardOptions, WorkerOptions)
  options = PipelineOptions(pipeline_args)
  standard = options.view_as(StandardOptions)
  if not standard.runner:
    standard.runner = "DirectRunner"
  if "Dataflow" in str(standard.runner):
    setup = options.view_as(SetupOptions)
    if not setup.setup_file and not options.view_as(
        WorkerOptions).sdk_container_image and SETUP_PY.exists():
      setup.setup_file = str(SETUP_PY)
  return options


def is_dry_run(options: PipelineOptions) -> bool:
  """Whether the options ask only to build and validate the job graph (`--dry_run=True`).

  Args:
    options: the pipeline's options.

  Returns:
    True for a dry run.
  """
  return bool(options.get_all_options().get("dry_run"))


def run(pipeline: beam.Pipeline, what: str):
  """Runs `pipeline` to completion; user-data failures become InputError.

  Args:
    pipeline: the built pipeline.
    what: the command (`gcml validate`), named in errors and logs.

  Returns:
    The runner's PipelineResult.

  Raises:
    InputError: a file that could not be read or decoded (one line).
  """
  try:
    result = pipeline.run()
    result.wait_until_finish()
  except (OSError, UnicodeDecodeError) as e:
    raise InputError(f"{what}: {e.__class__.__name__}: {e}") from None
  logging.info("%s: pipeline finished with state %s", what, getattr(result, "state", "?"))
  return result
