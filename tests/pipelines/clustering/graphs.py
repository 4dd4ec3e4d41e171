"""Graphs for the clustering tests, and running both engines on (id, id, weight) edges."""

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clustering import affinity_local, tie_hash
from pipelines.clustering.hierarchy_beam import AffinityClustering

RUNNER = "FnApiRunner"


def local_assignments(edges, levels=3, linkage="max", seed=0, cap=0, min_weight=0.0,
                      items=()):
  """{item: (rep L0, rep L1, ...)} from the in-memory engine."""
  ids = sorted({x for a, b, _ in edges for x in (a, b)} | set(items))
  index = {x: i for i, x in enumerate(ids)}
  kept = [(min(a, b), max(a, b), w) for a, b, w in edges if w >= min_weight]
  src = np.array([index[a] for a, _, _ in kept], np.int64)
  dst = np.array([index[b] for _, b, _ in kept], np.int64)
  weight = np.array([w for _, _, w in kept], np.float64)
  reps, _ = affinity_local.cluster(ids, src, dst, weight, levels, linkage, seed, cap)
  return {x: tuple(ids[r[i]] for r in reps) for i, x in enumerate(ids)}


def beam_matches(edges, expected: dict, levels=3, linkage="max", seed=0, cap=0,
                 min_weight=0.0, passes=None, partitions=3, options=None):
  """Runs AffinityClustering on the edges and asserts its assignments == expected."""
  kept = [(min(a, b), max(a, b), float(w), 1, 1) for a, b, w in edges if w >= min_weight]
  ignored = [(min(a, b), max(a, b)) for a, b, w in edges if w < min_weight]
  passes = passes or [12] * levels
  with TestPipeline(runner=RUNNER, options=options) as p:
    e = p | "Edges" >> beam.Create(kept)
    i = p | "Ignored" >> beam.Create(ignored)
    assignments, _ = (e, i) | AffinityClustering(levels, passes, partitions, seed, linkage, cap)
    assert_that(assignments, equal_to(sorted(expected.items())))


def chain(n: int, prefix: str = "c"):
  """A path whose weights grow along it: every node's best neighbour is the next."""
  names = [f"{prefix}{i:06d}" for i in range(n)]
  return [(names[i], names[i + 1], float(i + 1)) for i in range(n - 1)], names


def random_graph(seed: int, n: int, m: int, distinct: bool, prefix: str = "n"):
  rng = np.random.default_rng(seed)
  a, b = rng.integers(0, n, m), rng.integers(0, n, m)
  keep = a != b
  lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
  pairs = np.unique(lo * n + hi)
  lo, hi = pairs // n, pairs % n
  weight = (rng.permutation(len(lo)) + 1.0 if distinct
            else rng.integers(1, 4, len(lo)).astype(float))
  return [(f"{prefix}{x}", f"{prefix}{y}", float(w)) for x, y, w in zip(lo, hi, weight)]


def smaller_hash(seed: int, *reps: str) -> str:
  """The rep that wins a tie at this seed."""
  return min(reps, key=lambda r: (tie_hash(seed, r), r))


def run_cluster_command(tmp_path, name: str, edges_csv: str, *flags) -> tuple:
  """`gcml cluster` on an edge list written as CSV text.

  Returns:
    ({id: [l0, l1, ...]}, the `cluster` section of summary.json,
    {relative path: bytes} of every output file).
  """
  import glob  # pylint: disable=import-outside-toplevel
  import json  # pylint: disable=import-outside-toplevel
  import os  # pylint: disable=import-outside-toplevel

  from launch import main as gcml  # pylint: disable=import-outside-toplevel
  from pipelines.io import sharded_io  # pylint: disable=import-outside-toplevel
  path = tmp_path / "edges.csv"
  path.write_text(edges_csv, encoding="utf-8")
  out = tmp_path / name
  assert gcml.main(["cluster", f"--edges={path}", f"--output_dir={out}", *flags]) == 0
  rows = [line.split("\t") for p in sorted(glob.glob(sharded_io.shard_glob(
      str(out / "assignments"), ".tsv"))) for line in open(p, encoding="utf-8").read()
          .splitlines()[1:]]
  files = {os.path.relpath(os.path.join(d, f), out): open(os.path.join(d, f), "rb").read()
           for d, _, names in os.walk(out) for f in names}
  return {r[0]: r[1:] for r in rows}, json.loads(files["summary.json"])["cluster"], files
