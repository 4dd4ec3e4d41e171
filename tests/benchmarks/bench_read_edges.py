"""`gcml bench read_edges`: the in-memory edge reader on a synth world (prints JSON).

Writes (or reuses, `--world=DIR`) a `gcml synth` world of `--num_items` items
(mean degree 20: 10 edge lines per item, 10M lines at the default 1M; one
4-float modality, so the features stay small), then calls
`edges_local.read_edges_local` on its edge files `--repeats` times in this
process. Per call: wall seconds and CPU seconds of the process, user and
system apart (all threads: blocks are split and the ids numbered on two
threads; system time is mostly page faults of fresh arrays, fewer since the
reader turns numpy's huge-page advice off and puts arrow on the system
allocator, `edges_local.small_pages`, unless `NUMPY_MADVISE_HUGEPAGE` or
`ARROW_DEFAULT_MEMORY_POOL` is set); then the lines, unique ids
and unique edges, the CPU model and `NPY_DISABLE_CPU_FEATURES` (numpy's
AVX-512 sort is several times slower than its AVX2 one on some AMD CPUs, so
the figures depend on both). `--profile` prints the 15 costliest functions
(cProfile, cumulative) of one more call. Not a timed test: it prints figures.
"""

import argparse
import cProfile
import glob
import json
import os
import pstats
import resource
import sys
import time

from pipelines import synth
from pipelines.io import edges_local
from pipelines.io.features import Modality


def world_edges(world: str, num_items: int) -> list:
  """The edge files of `world`, written by `gcml synth` first if there are none.

  Args:
    world: the world's folder.
    num_items: the number of items of a new world.

  Returns:
    The sorted edge file paths.
  """
  if not glob.glob(os.path.join(world, "edges-*.csv")):
    synth.generate(synth.SynthConfig(num_items=num_items, seed=0,
                                     modalities=(Modality("rgb", 4),)),
                   world, progress=lambda *_: None)
  return sorted(glob.glob(os.path.join(world, "edges-*.csv")))


def cpu_model() -> str:
  """The first `model name` of /proc/cpuinfo ("" where there is none).

  Returns:
    The CPU model.
  """
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      return next((line.split(":", 1)[1].strip() for line in f
                   if line.startswith("model name")), "")
  except OSError:
    return ""


def main(argv: list) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench read_edges", allow_abbrev=False)
  p.add_argument("--num_items", type=int, default=1_000_000)
  p.add_argument("--world", default="", help="a synth world's folder (default: under /tmp)")
  p.add_argument("--repeats", type=int, default=2)
  p.add_argument("--combine", default="max", choices=("max", "sum"))
  p.add_argument("--profile", action="store_true")
  args = p.parse_args(argv)
  world = args.world or f"/tmp/gcml-bench/read_edges/world-{args.num_items}"
  paths = world_edges(world, args.num_items)
  result = {"cpu_count": os.cpu_count(), "cpu_model": cpu_model(),
            "npy_disable_cpu_features": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""),
            "load_average": os.getloadavg(), "world": world,
            "bytes": sum(os.path.getsize(x) for x in paths), "runs": []}
  for _ in range(args.repeats):
    wall, before = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    edges = edges_local.read_edges_local(paths, "csv", args.combine, "cluster")
    after = resource.getrusage(resource.RUSAGE_SELF)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    result["runs"].append({"seconds": round(time.time() - wall, 2),
                           "cpu_seconds": round(user + system, 2), "user_seconds": round(user, 2),
                           "system_seconds": round(system, 2)})
  result.update({"lines": sum(edges.stats.get(k, 0) for k in
                              ("edges/valid_records", "edges/header_lines"))
                 + len(edges.rejections), "ids": len(edges.ids),
                 "unique_edges": len(edges.src), "load_average_after": os.getloadavg()})
  del edges
  if args.profile:
    profile = cProfile.Profile()
    profile.runcall(edges_local.read_edges_local, paths, "csv", args.combine, "cluster")
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(15)
  print(json.dumps(result, indent=2, sort_keys=True))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
