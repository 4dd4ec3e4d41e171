"""The Beam transforms of `cluster_labels`.

Kept apart so that the in-memory engines import `cluster_labels` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from collections import Counter
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing
from pipelines.examples import cluster_labels
from pipelines.examples.items_beam import DenseRanks
from pipelines.examples.reservoirs_beam import BottomKFn


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


def _labelled(cluster, grouped):
  (count, members), = grouped["sample"]
  label, = grouped["label"]
  yield beam.pvalue.TaggedOutput("classes", (label, cluster, len(members), count))
  for m in members:
    yield m, label


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
               | "KeepClass" >> beam.FlatMap(cluster_labels._keep_class, self.min_cluster_size)
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
         | "WriteClasses" >> beam.Map(cluster_labels._write_classes,
                                      cluster_labels.classes_path(self.output_dir)))
    size_stats = (classes
                  | "Sizes" >> beam.FlatMap(lambda row: [("size", row[2]), ("members", row[3])])
                  | "Histograms" >> beam.CombinePerKey(_HistogramFn())
                  | "Quantiles" >> beam.FlatMap(cluster_labels._quantile_stats))
    counts = classes | "CountClasses" >> beam.FlatMap(
        lambda row: [("classes/count", 1), ("examples/total", row[2])])
    stats = (samples.stats, size_stats, counts) | "FlattenStats" >> beam.Flatten()
    return ClusterLabelsResult(labelled.labels, stats)
