"""`launch/examples.py`: `gcml examples` hands its flags to the examples stage, and starts lean."""

import json
import os
import subprocess
import sys

import pytest

from launch import examples
from pipelines.errors import InputError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_main_reports_a_missing_input_as_an_input_error(tmp_path):
  with pytest.raises(InputError, match=r"^--features: no file matches: .*/f-\*\.tfrecord$"):
    examples.main(["--kind=random", f"--edges={tmp_path}/e-*.csv",
                   f"--features={tmp_path}/f-*.tfrecord", f"--clusters={tmp_path}/c",
                   f"--output_dir={tmp_path}/out"])


def test_gcml_examples_starts_without_modules_it_does_not_use(tmp_path):
  """A fresh `gcml examples` process: one OpenBLAS thread, no pyarrow.compute, protobuf or
  importlib.resources imported with the stage, its modules frozen out of garbage collection."""
  flags = ["--kind=random", f"--edges={tmp_path}/e-*.csv", f"--features={tmp_path}/f-*.tfrecord",
           f"--output_dir={tmp_path}/out"]
  code = ("import gc, json, os, sys\n"
          "from launch import main\n"
          f"assert main.run_subcommand('examples', {flags!r}) == 2\n"
          "print(json.dumps([os.environ.get('OPENBLAS_NUM_THREADS'), gc.isenabled(),\n"
          "                  gc.get_freeze_count() > 0, 'numpy' in sys.modules,\n"
          "                  sorted(m for m in ('pyarrow.compute', 'google.protobuf',\n"
          "                                     'importlib.resources') if m in sys.modules)]))\n")
  env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
  done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                        text=True, env={**env, "PYTHONPATH": ROOT})
  assert "gcml examples: error:" in done.stderr
  assert json.loads(done.stdout.strip().splitlines()[-1]) == ["1", True, True, True, []]
