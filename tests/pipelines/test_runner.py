"""Tests for pipelines/runner.py: stage flags, Beam options and unknown flags."""

import argparse
import subprocess
import sys

import pytest

from pipelines import runner
from pipelines.errors import InputError


def _stage_parser():
  parser = argparse.ArgumentParser(prog="gcml stage")
  parser.add_argument("--edges", required=True)
  parser.add_argument("--edge_format", default="auto")
  return parser


def test_stage_flags_and_beam_options_are_split():
  known, rest = runner.parse_stage_args(
      _stage_parser(), ["--edges=e", "--runner=FnApiRunner", "--direct_num_workers", "2",
                        "--edge_format=tsv", "--dry_run=True", "--project=p"])
  assert (known.edges, known.edge_format) == ("e", "tsv")
  assert rest == ["--runner=FnApiRunner", "--direct_num_workers", "2", "--dry_run=True",
                  "--project=p"]


@pytest.mark.parametrize("arg, message", [
    ("--edge_fromat=tsv", "unknown flag --edge_fromat; did you mean --edge_format?"),
    ("--runer=DirectRunner", "unknown flag --runer; did you mean --runner?"),
    ("--engine=local", "unknown flag --engine; see gcml stage --help"),
    ("stray", "unexpected argument 'stray' (flags are --name=value)"),
])
def test_unknown_arguments_are_one_line_errors(arg, message):
  with pytest.raises(InputError) as raised:
    runner.parse_stage_args(_stage_parser(), ["--edges=e", arg])
  assert str(raised.value) == message


def test_misspelt_flag_exits_2_with_the_suggestion(tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "launch.main", "validate", f"--edges={tmp_path}/e.csv",
       f"--features={tmp_path}/f.tfrecord", f"--output_dir={tmp_path}/out", "--edge_fromat=tsv"],
      capture_output=True, text=True, check=False)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines()[-1] == (
      "gcml validate: error: unknown flag --edge_fromat; "
      "did you mean --edge_format?")
