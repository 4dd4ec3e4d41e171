"""The Beam transforms of `writer`.

Kept apart so that the in-memory engines import `writer` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.io import sharded_io_beam
from pipelines.io.cluster_tables import writer


class _SizeAndParent(beam.CombineFn):
  """(members, parent) of a cluster; every member names the same parent."""

  def create_accumulator(self):
    return (0, None)

  def add_input(self, acc, value):
    return (acc[0] + 1, acc[1] if acc[1] is not None else value)

  def merge_accumulators(self, accs):
    count, parent = 0, None
    for n, p in accs:
      count, parent = count + n, parent if parent is not None else p
    return (count, parent)

  def extract_output(self, acc):
    return acc


def _per_level(item_reps):
  _, reps = item_reps
  for level, rep in enumerate(reps):
    yield (level, rep), (reps[level + 1] if level + 1 < len(reps) else None)


@dataclasses.dataclass
class WriteClusterTables(beam.PTransform):
  """(item, reps per level) -> the three tables."""
  output_dir: str
  levels: int
  num_shards: int

  def __post_init__(self):
    super().__init__()

  def expand(self, assignments):
    out, shards = self.output_dir, self.num_shards
    _ = (assignments
         | "AssignmentLines" >> beam.MapTuple(writer.assignment_record)
         | "WriteAssignments" >> sharded_io_beam.WriteSortedShards(
             writer.prefix(out, "assignments"), ".tsv", shards,
             header=writer.assignments_header(self.levels)))
    clusters = (assignments
                | "PerLevel" >> beam.FlatMap(_per_level)
                | "SizeAndParent" >> beam.CombinePerKey(_SizeAndParent()))
    _ = (clusters
         | "ClusterLines" >> beam.MapTuple(
             lambda k, sp: writer.cluster_record(k[0], k[1], sp[1], sp[0]))
         | "WriteClusters" >> sharded_io_beam.WriteSortedShards(
             writer.prefix(out, "clusters"), ".tsv", shards, header=writer.CLUSTERS_HEADER))
    return (clusters
            | "LevelAndSize" >> beam.MapTuple(lambda k, sp: ((k[0], sp[0]), 1))
            | "Histogram" >> beam.CombinePerKey(sum)
            | "SizeLines" >> beam.MapTuple(lambda k, n: writer.size_record(k[0], k[1], n))
            | "WriteSizes" >> sharded_io_beam.WriteSortedShards(
                writer.prefix(out, "cluster_sizes"), ".tsv", 1, header=writer.SIZES_HEADER))
