"""`gcml bench synth`: time and peak memory of the synthetic world generator.

Runs `gcml synth` in a child process (so its peak RSS is its own) and counts
the distinct undirected edges it wrote. Default: the `planted` preset, 1M
items, mean degree 20 (10M edge lines); `--preset` picks another world, and
`--num_items` / `--mean_degree` override the preset's values only when given.
"""

import argparse
import glob
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


def count_unique_edges(output_dir: str) -> int:
  keys = []
  for path in sorted(glob.glob(f"{output_dir}/edges-*.csv")):
    with open(path, encoding="utf-8") as f:
      rows = [line.split(",", 2) for line in f.read().splitlines()[1:]]
    a = np.fromiter((int(r[0][1:]) for r in rows), np.int64, len(rows))
    b = np.fromiter((int(r[1][1:]) for r in rows), np.int64, len(rows))
    keys.append(np.minimum(a, b) * 10_000_000 + np.maximum(a, b))
  return int(np.unique(np.concatenate(keys)).size)


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench synth", allow_abbrev=False)
  p.add_argument("--preset", default="planted")
  p.add_argument("--num_items", type=int, default=None, help="default 1,000,000 for planted")
  p.add_argument("--mean_degree", type=float, default=None, help="default: the preset's")
  p.add_argument("--output_dir", default="")
  p.add_argument("--keep", action="store_true")
  a = p.parse_args(argv)
  if a.num_items is None and a.preset == "planted":
    a.num_items = 1_000_000
  out = a.output_dir or tempfile.mkdtemp(prefix="gcml-bench-synth-")
  flags = [f"--output_dir={out}", f"--preset={a.preset}"]
  flags += [f"--num_items={a.num_items}"] if a.num_items is not None else []
  flags += [f"--mean_degree={a.mean_degree}"] if a.mean_degree is not None else []
  start = time.time()
  subprocess.run([sys.executable, "-m", "launch.synth", *flags], check=True,
                 stdout=subprocess.DEVNULL)
  seconds = time.time() - start
  peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
  with open(os.path.join(out, "synth.json"), encoding="utf-8") as f:
    stats = json.load(f)
  result = {
      "benchmark": "synth", "preset": stats["preset"], "items": stats["items"],
      "edge_lines": stats["edge_lines"],
      "unique_edges": count_unique_edges(out) if stats["items"] <= 2_000_000 else None,
      "seconds": round(seconds, 1), "items_per_second": round(stats["items"] / seconds),
      "edge_lines_per_second": round(stats["edge_lines"] / seconds),
      "peak_rss_mb_largest_process": round(peak_mb), "cores": os.cpu_count(),
      "bytes_written": sum(os.path.getsize(f) for f in glob.glob(f"{out}/*")),
  }
  if not a.keep and not a.output_dir:
    import shutil
    shutil.rmtree(out)
  print(json.dumps(result, indent=2))
  return result
