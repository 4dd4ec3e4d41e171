"""Cluster-labelled examples for CLC (contract 6).

Classes are the clusters of level `--level` (default L0). Per cluster, its
train members with features are counted exactly and at most
`--max_per_cluster` of them are kept: the bottom-k by a seeded hash of the id
(a combiner, so a huge cluster is never collected). Clusters with fewer than
`--min_cluster_size` such members are dropped (counted as
`classes/dropped_small`, their items as `items/in_dropped_classes`). The
kept clusters get dense labels 0..C-1 in seeded-hash order of the cluster
id (`items_beam.DenseRanks`, no global sort).

`classes.tsv` has the header `label\tcluster\tsize` and one row per class,
sorted by label; `size` is the number of examples written with that label
(the class frequency the trainer sees: min(members, max_per_cluster)).
`summary.json` gets the class count and quantiles (nearest rank: min, p50,
p90, p99, max) of `size` (`classes/size_*`) and of the train members per
kept cluster before the cap (`classes/members_*`).
"""

import math

from pipelines import beam_parts
from pipelines.io.file_system import FileSystems

from pipelines.io import sharded_io

CLASSES_HEADER = "label\tcluster\tsize"
QUANTILES = (("min", 0.0), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


def quantiles(histogram: dict) -> dict:
  """Nearest-rank quantiles of a {value: count} histogram.

  Args:
    histogram: value -> count.

  Returns:
    {min, p50, p90, p99, max} ({} when empty).
  """
  total = sum(histogram.values())
  out = {}
  if not total:
    return out
  values = sorted(histogram.items())
  for name, q in QUANTILES:
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value, count in values:
      seen += count
      if seen >= rank:
        out[name] = value
        break
  return out


def _quantile_stats(kv):
  name, histogram = kv
  for q, value in quantiles(histogram).items():
    yield f"classes/{name}_{q}", value


def _keep_class(kv, min_size):
  cluster, (count, members) = kv
  if count < min_size:
    yield beam_parts.tagged_output("stats", ("classes/dropped_small", 1))
    yield beam_parts.tagged_output("stats", ("items/in_dropped_classes", count))
    return
  yield cluster, (count, tuple(m for _, m in members))


def _write_classes(kv, path):
  rows = sorted(kv[1]["row"])
  lines = [CLASSES_HEADER] + [f"{label}\t{cluster}\t{size}" for label, cluster, size, _ in rows]
  sharded_io.atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))
  return path


def classes_path(output_dir: str) -> str:
  """
  Args:
    output_dir: the examples' folder.

  Returns:
    The path of `classes.tsv` in it.
  """
  return FileSystems.join(output_dir, "classes.tsv")
