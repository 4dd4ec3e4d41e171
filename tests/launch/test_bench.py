"""`launch/bench.py`: `gcml bench NAME|all` finds `tests/benchmarks/bench_NAME.py` and runs it."""

import json
import signal

import pytest

from launch import bench
from pipelines.errors import InputError

_BENCH = '''
def main(argv):
  figures = {"name": %r, "flags": argv}
  print("figures", figures)
  return figures
'''


@pytest.fixture(name="bench_dir")
def fixture_bench_dir(tmp_path, monkeypatch):
  """A benchmark folder holding bench_a.py, bench_b.py and a file that is not a benchmark."""
  for name in ("a", "b"):
    (tmp_path / f"bench_{name}.py").write_text(_BENCH % name)
  (tmp_path / "compare_a.py").write_text("raise SystemExit('not a benchmark')\n")
  monkeypatch.setattr(bench, "BENCH_DIR", tmp_path)
  return tmp_path


def test_the_repository_benchmarks_are_listed():
  names = bench.available()
  assert {"synth", "read_edges", "cluster"} <= set(names)
  assert names == sorted(names) and "compare_methods" not in names


def test_available_lists_bench_files_only(bench_dir):
  assert bench.available() == ["a", "b"]


def test_run_benchmark_returns_the_figures(bench_dir):
  assert bench.run_benchmark("b", ["--n=3"]) == {"name": "b", "flags": ["--n=3"]}


def test_an_unknown_benchmark_names_the_available_ones(bench_dir):
  with pytest.raises(InputError, match=r"^no benchmark 'c'; available: a, b$"):
    bench.run_benchmark("c", [])


def test_main_all_prints_every_benchmarks_figures(bench_dir, capsys):
  assert bench.main(["all", "--x"]) == 0
  out = capsys.readouterr().out
  assert json.loads(out[out.index("{\n"):]) == {"a": {"name": "a", "flags": ["--x"]},
                                                "b": {"name": "b", "flags": ["--x"]}}


def test_main_help_lists_the_benchmarks(bench_dir, capsys):
  assert bench.main(["--help"]) == 0
  assert capsys.readouterr().out == "usage: gcml bench NAME|all [flags]\nbenchmarks: a, b\n"


def test_main_without_a_benchmark_folder(tmp_path, monkeypatch):
  monkeypatch.setattr(bench, "BENCH_DIR", tmp_path / "missing")
  with pytest.raises(InputError, match="benchmarks not found at .*missing"):
    bench.main(["a"])


_SIGTERMED = '''
import os, signal
def main(argv):
  os.kill(os.getpid(), signal.SIGTERM)
  figures = {"score": 1.0}
  print("figures", figures)
  return figures
'''

# A SIGTERM taken by the trainer (`StopFlag`): it returns before its budget, without an export.
_TRAINING_SIGTERMED = '''
import os, signal
from launch import bench
from model import train_runtime, trainer
def main(argv):
  with train_runtime.StopFlag() as flag:
    os.kill(os.getpid(), signal.SIGTERM)
  assert flag.stop
  result = trainer.TrainResult(start_step=0, final_step=7, losses=[], export_dir=None,
                               last_metrics={})
  bench.require_finished(result, "cdml seed 0")
  print("figures", {"score": 1.0})
  return {"score": 1.0}
'''


def test_a_sigterm_stops_the_benchmark_in_one_line_without_figures(bench_dir, capsys):
  (bench_dir / "bench_c.py").write_text(_SIGTERMED)
  before = signal.getsignal(signal.SIGTERM)
  assert bench.main(["c"]) == 143
  captured = capsys.readouterr()
  assert captured.out == ""
  assert captured.err == "gcml bench c: stopped (SIGTERM); the unfinished run is not scored\n"
  assert signal.getsignal(signal.SIGTERM) is before


def test_a_training_stopped_by_sigterm_is_not_scored(bench_dir, capsys):
  (bench_dir / "bench_d.py").write_text(_TRAINING_SIGTERMED)
  assert bench.main(["d"]) == 143
  captured = capsys.readouterr()
  assert captured.out == ""
  assert captured.err == ("gcml bench d: stopped (cdml seed 0: training stopped at step 7, "
                          "before its budget); the unfinished run is not scored\n")
