"""`gcml bench NAME [flags]`: run a benchmark from tests/benchmarks and print JSON.

Benchmarks are files `tests/benchmarks/bench_<name>.py` with a
`main(argv: list[str]) -> dict` that measures, prints its figures as JSON and
returns them. They are never part of the default test run.
"""

import json
import pathlib
import runpy
import sys

from pipelines.errors import InputError

BENCH_DIR = pathlib.Path(__file__).resolve().parents[1] / "tests" / "benchmarks"


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
    results[name] = run_benchmark(name, argv[1:])
  if len(names) > 1:
    print(json.dumps(results, indent=2, sort_keys=True))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
