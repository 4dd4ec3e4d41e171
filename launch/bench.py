"""`gcml bench NAME [flags]`: run a benchmark from tests/benchmarks and print JSON.

Benchmarks are files `tests/benchmarks/bench_<name>.py` with a
`main(argv: list[str]) -> dict` that measures, prints its figures as JSON and
returns them. They are never part of the default test run.

A SIGTERM stops a benchmark with one line (exit 143) and no figures. While a
benchmark trains, the trainer takes SIGTERM itself (it checkpoints and returns
before its budget, without an export): benchmarks pass each training's result
to `require_finished`, so a partial run is never scored as a finished one.
"""

import contextlib
import json
import pathlib
import runpy
import signal
import sys
import threading

from pipelines.errors import InputError

BENCH_DIR = pathlib.Path(__file__).resolve().parents[1] / "tests" / "benchmarks"


class Stopped(Exception):
  """A benchmark stopped before its figures were complete (SIGTERM)."""


def require_finished(result, what: str) -> None:
  """Raises `Stopped` when a `model.trainer.train` result stopped before its budget.

  Args:
    result: the `TrainResult` (a finished training has exported the model).
    what: the run, for the message.

  Raises:
    Stopped: the trainer returned early (it took a SIGTERM) and exported nothing.
  """
  if result.export_dir is None:
    raise Stopped(f"{what}: training stopped at step {result.final_step}, before its budget")


@contextlib.contextmanager
def _stopped_by_sigterm():
  """SIGTERM raises `Stopped` for the block (in the main thread; elsewhere nothing changes)."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return

  def stop(*_):
    raise Stopped("SIGTERM")

  previous = signal.signal(signal.SIGTERM, stop)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def available() -> list[str]:
  """The benchmarks in tests/benchmarks.

  Returns:
    Their names (`bench_NAME.py` gives NAME), sorted.
  """
  return sorted(p.stem[len("bench_"):] for p in BENCH_DIR.glob("bench_*.py"))


def run_benchmark(name: str, argv: list[str]) -> dict:
  """Runs one benchmark's `main(argv)`.

  Args:
    name: the benchmark (`bench_NAME.py`).
    argv: its flags.

  Returns:
    The figures it measured.

  Raises:
    InputError: no such benchmark.
  """
  path = BENCH_DIR / f"bench_{name}.py"
  if not path.exists():
    raise InputError(f"no benchmark {name!r}; available: {', '.join(available())}")
  namespace = runpy.run_path(str(path), run_name=f"gcml_bench_{name}")
  return namespace["main"](argv)


def main(argv: list[str]) -> int:
  """`gcml bench NAME|all [flags]`.

  Args:
    argv: the benchmark's name (or `all`), then its flags.

  Returns:
    The exit status.
  """
  if not BENCH_DIR.is_dir():
    raise InputError(f"benchmarks not found at {BENCH_DIR} (run from a source checkout)")
  if not argv or argv[0] in ("-h", "--help"):
    print("usage: gcml bench NAME|all [flags]\nbenchmarks: " + ", ".join(available()))
    return 0
  names = available() if argv[0] == "all" else [argv[0]]
  results = {}
  for name in names:
    try:
      with _stopped_by_sigterm():
        results[name] = run_benchmark(name, argv[1:])
    except Stopped as e:
      print(f"gcml bench {name}: stopped ({e}); the unfinished run is not scored",
            file=sys.stderr)
      return 143  # 128 + SIGTERM, as a shell reports it
  if len(names) > 1:
    print(json.dumps(results, indent=2, sort_keys=True))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
