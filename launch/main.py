"""`gcml`: one console command with a subcommand per stage.

Each subcommand lives in `launch/<name>.py` with a `main(argv) -> int` and can
also be run as `python -m launch.<name>`. User errors (bad paths, unreadable or
malformed inputs, bad flag values) print one line and exit 2, no traceback.
So do file-system faults (`launch/faults.py`): an output path under a file, a
read-only or full file system, a file size or quota limit, no permission,
whether raised directly, inside a Beam stage or by a TensorFlow file op.
`GCML_TRACEBACK=1` re-raises them with the whole traceback. TensorFlow's native
start-up lines go to the log at DEBUG, not the console (`launch/tf_startup.py`).
The subcommands that do no linear algebra (`NO_BLAS_THREADS`) load numpy with
one OpenBLAS thread (`OPENBLAS_NUM_THREADS=1` unless set, in a process that has
not loaded numpy yet, so a caller in the same process keeps its setting):
OpenBLAS starts a worker per core when numpy is imported, and each spins
30-40 ms of CPU before it sleeps, a tenth of a small `gcml examples
--engine=local` run. Imports run with
Python's cyclic garbage collector paused (`_import_subcommand`).
"""

import gc
import importlib
import os
import sys

import model  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
from launch import tf_startup
from pipelines import cycle_collection
from launch.faults import file_fault

SUBCOMMANDS = {
    "synth": "generate a synthetic co-watch world (edges, features, hierarchy)",
    "validate": "check edges and features; counted rejections in rejected/",
    "cluster": "affinity clustering of the edge graph into L0..L2 cluster tables",
    "examples": "training examples: smart / random triplets, cluster labels",
    "train": "train the embedding model (triplet, clc, contrastive)",
    "export": "batch embedding export and related-items top-K",
    "evaluate": "retrieval and annotation metrics with plots",
    "demo": "run the whole flow on built-in defaults",
    "bench": "benchmarks under tests/benchmarks (prints JSON)",
}

NO_BLAS_THREADS = frozenset(("examples",))

USAGE = "usage: gcml <subcommand> [flags]\n\nsubcommands:\n" + "\n".join(
    f"  {name:<10} {text}" for name, text in SUBCOMMANDS.items())


def run_subcommand(name: str, argv: list[str]) -> int:
  """Runs one subcommand and turns user errors into a one-line message.

  The subcommand holds the lock of its `--output_dir` while it runs.

  Args:
    name: the subcommand (`launch/<name>.py`).
    argv: its flags.

  Returns:
    The exit status: 0, 2 for a user error, 130 when interrupted, 141 on a closed pipe.
  """
  with cycle_collection.paused():
    from model.errors import ConfigError
    from pipelines.io import output_lock
    from pipelines.errors import InputError

  tf_startup.install()
  if name in NO_BLAS_THREADS and "numpy" not in sys.modules:  # a fresh process only
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
  try:
    module = _import_subcommand(name)
  except ModuleNotFoundError as e:
    if e.name == f"launch.{name}":
      print(f"gcml {name}: not available in this version", file=sys.stderr)
      return 2
    raise
  locked = None if name == "bench" or {"-h", "--help"} & set(argv) else \
      output_lock.output_dir_of(argv)
  try:
    with output_lock.held(locked, f"gcml {name}"):  # one writer per output directory
      return module.main(argv) or 0
  except (InputError, ConfigError) as e:
    print(f"gcml {name}: error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f"gcml {name}: interrupted", file=sys.stderr)
    return 130
  except BrokenPipeError:  # e.g. `gcml ... | head`: the reader left; stop quietly
    return _closed_stdout()
  except Exception as e:  # pylint: disable=broad-except
    fault = file_fault(e)
    if fault is None or os.environ.get("GCML_TRACEBACK"):
      raise
    print(f"gcml {name}: error: {fault}", file=sys.stderr)
    return 2


def _import_subcommand(name: str):
  """`launch.<name>`, imported with the cyclic garbage collector paused (`cycle_collection`).

  The imports' objects (~100k containers, ~50 ms of collections in a 20k
  `gcml examples` run) are then frozen (`gc.freeze`): later collections leave
  them out. Only on the module's first import: a process that runs
  subcommands again (tests) does not freeze its garbage of the meantime.

  Args:
    name: the subcommand.

  Returns:
    The module.
  """
  first = f"launch.{name}" not in sys.modules
  with cycle_collection.paused():
    module = importlib.import_module(f"launch.{name}")
    if first:
      gc.freeze()  # before collection resumes: it would walk all of them first
  return module


def _closed_stdout() -> int:
  # Python would report the pipe again when flushing stdout at exit.
  os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
  return 141  # 128 + SIGPIPE, as a shell reports it


def main(argv: list[str] | None = None) -> int:
  """`gcml SUBCOMMAND [flags]`.

  Args:
    argv: the command line after `gcml` (None: `sys.argv[1:]`).

  Returns:
    The exit status.
  """
  argv = list(sys.argv[1:] if argv is None else argv)
  if not argv or argv[0] in ("-h", "--help", "help"):
    try:
      print(USAGE, flush=True)
    except BrokenPipeError:
      return _closed_stdout()
    return 0 if argv else 2
  name, rest = argv[0], argv[1:]
  if name not in SUBCOMMANDS:
    print(f"gcml: unknown subcommand {name!r}\n\n{USAGE}", file=sys.stderr)
    return 2
  return run_subcommand(name, rest)


if __name__ == "__main__":
  sys.exit(main())
