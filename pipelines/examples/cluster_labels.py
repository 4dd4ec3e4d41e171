"""Cluster-labelled examples for CLC (contract 6).

Classes are the clusters of level `--level` (default L0). Per cluster, its
train members with features are counted exactly and at most
`--max_per_cluster` of them are kept: the bottom-k by a seeded hash of the id
(a combiner, so a huge cluster is never collected). Clusters with fewer than
`--min_cluster_size` such members are dropped (counted as
`classes/dropped_small`, their items as `items/in_dropped_classes`). The
kept clusters get dense labels 0..C-1 in seeded-hash order of the cluster
id (`items.DenseRanks`, no global sort).

`classes.tsv` has the header `label\tcluster\tsize` and one row per class,
sorted by label; `size` is the number of examples written with that label
(the class frequency the trainer sees: min(members, max_per_cluster)).
`summary.json` gets the class count and quantiles (nearest rank: min, p50,
p90, p99, max) of `size` (`classes/size_*`) and of the train members per
kept cluster before the cap (`classes/members_*`).
"""

import dataclasses
import math
from collections import Counter
from typing import NamedTuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines.io import sharded_io
from pipelines import hashing
from pipelines.examples.items import DenseRanks
from pipelines.examples.reservoirs import BottomKFn

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


class _HistogramFn(beam.CombineFn):

  def create_accumulator(self):
    return Counter()

  def add_input(self, acc, value):
    acc[value] += 1
    return acc

  def merge_accumulators(self, accs):
    out = Counter()
    for acc in accs:
      out.update(acc)
    return out

  def extract_output(self, acc):
    return dict(acc)


def _quantile_stats(kv):
  name, histogram = kv
  for q, value in quantiles(histogram).items():
    yield f"classes/{name}_{q}", value


def _keep_class(kv, min_size):
  cluster, (count, members) = kv
  if count < min_size:
    yield beam.pvalue.TaggedOutput("stats", ("classes/dropped_small", 1))
    yield beam.pvalue.TaggedOutput("stats", ("items/in_dropped_classes", count))
    return
  yield cluster, (count, tuple(m for _, m in members))


def _labelled(cluster, grouped):
  (count, members), = grouped["sample"]
  label, = grouped["label"]
  yield beam.pvalue.TaggedOutput("classes", (label, cluster, len(members), count))
  for m in members:
    yield m, label


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


class ClusterLabelsResult(NamedTuple):
  labels: beam.PCollection  # (id, label)
  stats: beam.PCollection


@dataclasses.dataclass
class ClusterLabels(beam.PTransform):
  """ItemInfo -> (id, label); writes `classes.tsv`.

  Attributes:
    level: the cluster level whose clusters are the classes.
    max_per_cluster: at most this many examples per class.
    min_cluster_size: clusters with fewer train members are dropped.
    seed: the run's seed.
    output_dir: where `classes.tsv` goes.
  """
  level: int
  max_per_cluster: int
  min_cluster_size: int
  seed: int
  output_dir: str

  def __post_init__(self):
    super().__init__()

  def expand(self, infos):
    seed, level = self.seed, self.level
    samples = (infos
               | "WithCluster" >> beam.Filter(lambda i: i.path is not None)
               | "KeyByCluster" >> beam.Map(lambda i: (
                   i.path[level], (hashing.hash64(seed, "label", i.id), i.id)))
               | "BottomK" >> beam.CombinePerKey(BottomKFn(self.max_per_cluster))
               | "KeepClass" >> beam.FlatMap(_keep_class, self.min_cluster_size)
               .with_outputs("stats", main="kept"))
    ranks = (samples.kept | "ClusterIds" >> beam.Keys()
             | "Labels" >> DenseRanks(seed, salt="label"))
    labelled = ({"sample": samples.kept, "label": ranks.ranks}
                | "JoinLabels" >> beam.CoGroupByKey()
                | "Members" >> beam.FlatMapTuple(_labelled).with_outputs("classes", main="labels"))
    classes = labelled.classes
    marker = infos.pipeline | "ClassesFile" >> beam.Create([(0, None)])
    _ = ({"row": classes | "OneKey" >> beam.Map(lambda row: (0, row)), "marker": marker}
         | "GatherClasses" >> beam.CoGroupByKey()
         | "WriteClasses" >> beam.Map(_write_classes, classes_path(self.output_dir)))
    size_stats = (classes
                  | "Sizes" >> beam.FlatMap(lambda row: [("size", row[2]), ("members", row[3])])
                  | "Histograms" >> beam.CombinePerKey(_HistogramFn())
                  | "Quantiles" >> beam.FlatMap(_quantile_stats))
    counts = classes | "CountClasses" >> beam.FlatMap(
        lambda row: [("classes/count", 1), ("examples/total", row[2])])
    stats = (samples.stats, size_stats, counts) | "FlattenStats" >> beam.Flatten()
    return ClusterLabelsResult(labelled.labels, stats)
