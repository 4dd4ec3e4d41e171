"""`gcml demo`: the whole flow on built-in defaults, one progress line per stage.

Stages run in order on a generated world of `--num_items` items; each prints
one line with its time, and the end says where everything is. Rerunning into
the same directory replaces the results (every stage rewrites its outputs).
"""

import argparse
import dataclasses
import os
import shutil
import sys
import time
from collections.abc import Callable

from launch import logs


@dataclasses.dataclass
class DemoConfig:
  output_dir: str = "out/demo"
  num_items: int = 20000
  seed: int = 0
  runner: str = "DirectRunner"


@dataclasses.dataclass
class Stage:
  name: str
  run: Callable[[DemoConfig], str]  # returns a one-line result


def _synth(c: DemoConfig) -> str:
  from pipelines import synth
  stats = synth.generate(synth.SynthConfig(num_items=c.num_items, seed=c.seed),
                         os.path.join(c.output_dir, "data"), progress=lambda _: None)
  return f"{stats['items']} items, {stats['edge_lines']} edge lines, " \
         f"{stats['micro_clusters']} planted micro-clusters"


def _validate(c: DemoConfig) -> str:
  from pipelines import validate
  data = os.path.join(c.output_dir, "data")
  section = validate.run([f"--edges={data}/edges-*.csv", f"--features={data}/features-*.tfrecord",
                          f"--output_dir={os.path.join(c.output_dir, 'validate')}",
                          f"--runner={c.runner}"])
  rejected = sum(v for k, v in section.items() if k.startswith("rejected/"))
  return f"{section.get('edges/unique_edges', 0)} unique edges, {rejected} rejected"


def _cluster(c: DemoConfig) -> str:
  from pipelines import cluster
  data = os.path.join(c.output_dir, "data")
  section = cluster.run([f"--edges={data}/edges-*.csv",
                         f"--output_dir={os.path.join(c.output_dir, 'cluster')}",
                         f"--seed={c.seed}", f"--runner={c.runner}"])
  per_level = [s["clusters"] for s in section["level_stats"]]
  return f"{section['items']} items into clusters per level L0..L{len(per_level) - 1}: {per_level}"


STAGES = [Stage("synth", _synth), Stage("validate", _validate), Stage("cluster", _cluster)]


def parse_args(argv) -> DemoConfig:
  d = DemoConfig()
  p = argparse.ArgumentParser(prog="gcml demo", description=__doc__.splitlines()[0])
  p.add_argument("--output_dir", default=d.output_dir)
  p.add_argument("--num_items", type=int, default=d.num_items)
  p.add_argument("--seed", type=int, default=d.seed)
  p.add_argument("--runner", default=d.runner, help="Beam runner for the pipeline stages")
  a = p.parse_args(argv)
  return DemoConfig(a.output_dir, a.num_items, a.seed, a.runner)


def main(argv: list[str]) -> int:
  logs.setup(level=30)  # warnings only: the demo prints its own lines
  config = parse_args(argv)
  for stage in STAGES:  # a rerun replaces earlier results cleanly
    shutil.rmtree(os.path.join(config.output_dir, stage.name), ignore_errors=True)
  shutil.rmtree(os.path.join(config.output_dir, "data"), ignore_errors=True)
  start = time.time()
  for i, stage in enumerate(STAGES, 1):
    t = time.time()
    print(f"[{i}/{len(STAGES)}] {stage.name} ...", flush=True)
    result = stage.run(config)
    print(f"[{i}/{len(STAGES)}] {stage.name}: {result} ({time.time() - t:.1f}s)", flush=True)
  print(f"demo: done in {time.time() - start:.1f}s; outputs under {os.path.abspath(config.output_dir)}"
        f" (data/: generated inputs; validate/summary.json: what the checks found; "
        f"cluster/: cluster tables, summary.json and cluster_sizes.png)")
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("demo", sys.argv[1:]))
