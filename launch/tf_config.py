"""TF_CONFIG for a list of hosts (multi-worker / parameter-server training).

`tf_config(hosts, index, ps=(), chief=None, task_type="worker")` returns the
dict; `python -m launch.tf_config --hosts=h1:p,h2:p --index=I [--ps=h3:p]
[--chief=h0:p] [--task_type=worker|ps|chief|evaluator]` prints its JSON, e.g.

  TF_CONFIG=$(python -m launch.tf_config --hosts=a:2222,b:2222 --index=1) gcml train ...

Without `chief`, worker 0 is the chief (MultiWorkerMirroredStrategy's
convention). No TensorFlow import.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

TASK_TYPES = ("worker", "ps", "chief", "evaluator")


def _split(hosts) -> list[str]:
  if isinstance(hosts, str):
    hosts = hosts.split(",")
  out = [h.strip() for h in hosts if h and h.strip()]
  for h in out:
    host, _, port = h.rpartition(":")
    if not host or not port.isdigit():
      raise ValueError(f"host must be HOST:PORT, got {h!r}")
  return out


def tf_config(hosts: Sequence[str] | str, index: int, ps: Sequence[str] | str = (),
              chief: str | None = None, task_type: str = "worker") -> dict:
  """The TF_CONFIG dict of task `task_type`:`index` in the cluster.

  Args:
    hosts: the worker HOST:PORTs (a list, or comma-separated).
    index: the task's index among its type.
    ps: the parameter server HOST:PORTs.
    chief: the chief's HOST:PORT, or None (worker 0 is chief).
    task_type: worker, ps, chief or evaluator.

  Returns:
    {"cluster": {...}, "task": {"type": ..., "index": ...}}.

  Raises:
    ValueError: no workers, bad HOST:PORT, unknown task type, index out of range.
  """
  workers, ps = _split(hosts), _split(ps)
  if not workers:
    raise ValueError("need at least one worker host")
  if task_type not in TASK_TYPES:
    raise ValueError(f"task_type must be one of {TASK_TYPES}, got {task_type!r}")
  cluster = {"worker": workers}
  if ps:
    cluster["ps"] = ps
  if chief:
    cluster["chief"] = _split([chief])
  n = {"worker": len(workers), "ps": len(ps), "chief": 1 if chief else 0,
       "evaluator": 1}[task_type]
  if not 0 <= index < n:
    raise ValueError(f"--index={index} out of range for {n} {task_type} task(s)")
  return {"cluster": cluster, "task": {"type": task_type, "index": index}}


def main(argv: list[str]) -> int:
  """Prints the TF_CONFIG JSON of one task.

  Args:
    argv: the flags.

  Returns:
    The exit status (2 for a bad cluster).
  """
  p = argparse.ArgumentParser(prog="python -m launch.tf_config",
                              description=__doc__.splitlines()[0], allow_abbrev=False)
  p.add_argument("--hosts", required=True, help="comma-separated worker HOST:PORT list")
  p.add_argument("--index", type=int, required=True)
  p.add_argument("--ps", default="", help="comma-separated parameter server HOST:PORT list")
  p.add_argument("--chief", default=None, help="chief HOST:PORT (default: worker 0 is chief)")
  p.add_argument("--task_type", default="worker", choices=TASK_TYPES)
  args = p.parse_args(argv)
  try:
    cfg = tf_config(args.hosts, args.index, args.ps, args.chief, args.task_type)
  except ValueError as e:
    print(f"tf_config: error: {e}", file=sys.stderr)
    return 2
  print(json.dumps(cfg))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
