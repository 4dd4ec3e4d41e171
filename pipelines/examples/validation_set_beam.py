"""The Beam transforms of `validation_set`.

Kept apart so that the in-memory engines import `validation_set` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import split
from pipelines.examples import validation_set
from pipelines.io import sharded_io, tf_example
from pipelines.io.file_system import FileSystems
from pipelines.io import sharded_io_beam


def _validation_item(item, test_fraction, validation_fraction):
  if split.split_of(item.id, test_fraction, validation_fraction) != "validation":
    return
  yield beam.pvalue.TaggedOutput("stats", ("validation/items", 1))
  yield item.id, tf_example.encode({"id": item.id, **item.features})


def _validation_edge(edge, test_fraction, validation_fraction):
  parts = {split.split_of(i, test_fraction, validation_fraction) for i in (edge.src, edge.dst)}
  if parts != {"validation"}:
    return
  a, b = sorted((edge.src, edge.dst))
  yield beam.pvalue.TaggedOutput("stats", ("validation/edges", 1))
  yield f"{a}\t{b}", f"{a}\t{b}"


class ValidationSetResult(NamedTuple):
  stats: beam.PCollection


@dataclasses.dataclass
class WriteValidationSet(beam.PTransform):
  """(feature Items, Edges) -> the validation items and edges, written as shards.

  Attributes:
    output_dir: where `items-*.tfrecord` and `edges-*.tsv` go.
    test_fraction, validation_fraction: the split.
    num_shards: shards of each output.
  """
  output_dir: str
  test_fraction: float
  validation_fraction: float
  num_shards: int = 1

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    items, edges = pcolls
    fractions = (self.test_fraction, self.validation_fraction)
    kept_items = items | "ValidationItems" >> beam.FlatMap(
        _validation_item, *fractions).with_outputs("stats", main="records")
    kept_edges = edges | "ValidationEdges" >> beam.FlatMap(
        _validation_edge, *fractions).with_outputs("stats", main="lines")
    _ = kept_items.records | "WriteItems" >> sharded_io_beam.WriteSortedShards(
        FileSystems.join(self.output_dir, validation_set.ITEMS), ".tfrecord", self.num_shards,
        sharded_io.TFRECORD)
    _ = kept_edges.lines | "WriteEdges" >> sharded_io_beam.WriteSortedShards(
        FileSystems.join(self.output_dir, validation_set.EDGES), ".tsv", self.num_shards,
        header=validation_set.EDGES_HEADER)
    stats = (kept_items.stats, kept_edges.stats) | "ValidationStats" >> beam.Flatten()
    return ValidationSetResult(stats)
