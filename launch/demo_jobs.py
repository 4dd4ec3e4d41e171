"""`gcml demo`'s runs: each stage's log, and a stage's independent runs in child processes.

`quiet` sends what a run prints and logs, Python and native code alike
(TensorFlow's start-up lines, which `TF_CPP_MIN_LOG_LEVEL` does not silence),
to its log file. `run_each` runs a stage's independent runs (one per
examples kind or method) in turn in this process, or with `--jobs=N` in up
to N child processes at a time (started fresh, `spawn`: no thread state of
this process is copied), each with its own log; the runs write the same files
either way, and a failed run is one line naming it and its log.
"""

import contextlib
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent import futures

from launch import logs
from pipelines.errors import InputError


@contextlib.contextmanager
def quiet(log_path: str):
  """Prints, log records and native output (file descriptors 1 and 2) go to `log_path`.

  Args:
    log_path: the log file (replaced).

  Yields:
    The open log file.
  """
  os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
  with open(log_path, "w", encoding="utf-8") as log:
    handler = logging.StreamHandler(log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [handler]
    try:
      with contextlib.redirect_stdout(log), _native_output_to(log):
        yield log
    finally:
      root.handlers = saved
      logs.setup(level=logging.WARNING)


@contextlib.contextmanager
def _native_output_to(log):
  """File descriptors 1 and 2 point at `log` for the block, then back."""
  for stream in (sys.stdout, sys.stderr, log):
    stream.flush()
  saved = [os.dup(1), os.dup(2)]
  try:
    for fd in (1, 2):
      os.dup2(log.fileno(), fd)
    yield
  finally:
    for stream in (sys.stdout, sys.stderr, log):
      stream.flush()
    for fd, copy in zip((1, 2), saved):
      os.dup2(copy, fd)
      os.close(copy)


def _child(function: Callable, config, item: str, log_path: str):
  """One run in a child process, quiet into its own log."""
  logs.setup(level=logging.WARNING)
  with quiet(log_path):
    return function(config, item)


def run_each(stage: str, function: Callable, config, items: list[str], jobs: int,
             log_dir: str) -> list:
  """`function(config, item)` for every item: in turn here, or in child processes.

  Args:
    stage: the stage's name (logs and errors).
    function: a module-level function (children import it by name).
    config: its first argument (picklable).
    items: the runs (examples kinds, methods), in order.
    jobs: runs at a time; 1: in this process, one after another; 0: one per core.
    log_dir: where each child's log `<stage>-<item>.log` goes.

  Returns:
    The results, in the order of `items`.

  Raises:
    InputError: a run failed in a child process (one line naming it and its log).
  """
  workers = min(jobs or os.cpu_count() or 1, os.cpu_count() or 1, len(items))
  if workers <= 1:
    return [function(config, item) for item in items]
  logs_of = {item: os.path.join(log_dir, f"{stage}-{item}.log") for item in items}
  with futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")
                                   ) as pool:
    runs = {item: pool.submit(_child, function, config, item, logs_of[item]) for item in items}
    results = []
    for item, run in runs.items():
      try:
        results.append(run.result())
      except Exception as e:  # pylint: disable=broad-except
        for other in runs.values():
          other.cancel()
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise InputError(f"{stage} {item} failed: {first_line} (log: {logs_of[item]})"
                         ) from None
  return results
