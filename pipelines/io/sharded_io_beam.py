"""The Beam transforms of `sharded_io` (`WriteSortedShards`).

Kept apart so that the in-memory engines import `sharded_io` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.io import sharded_io


@dataclasses.dataclass
class WriteSortedShards(beam.PTransform):
  """Writes a PCollection of (sort_key, payload) as deterministic sorted shards.

  Returns a PCollection of one element, the manifest's path, produced once
  every shard is in place.

  Attributes:
    prefix: output path prefix, e.g. `OUT/assignments`.
    suffix: file name suffix, e.g. `.tsv`.
    num_shards: number of shards; every shard is written, empty or not.
    record_format: `text` (payload is a line, str) or `tfrecord` (payload bytes).
    header: first line of every text shard, or None.
  """
  prefix: str
  suffix: str
  num_shards: int = 1
  record_format: str = sharded_io.TEXT
  header: str | None = None

  def __post_init__(self):
    super().__init__()

  def expand(self, records):
    num_shards, prefix, suffix = self.num_shards, self.prefix, self.suffix
    cleared = (records.pipeline
               | "Start" >> beam.Create([None])
               | "RemoveEarlierSet" >> beam.Map(
                   lambda _: sharded_io.remove_shards(prefix, suffix) or prefix))
    by_shard = records | "KeyByShard" >> beam.Map(
        lambda kv: (sharded_io.shard_index(kv[0], num_shards), kv))
    every_shard = (records.pipeline
                   | "EveryShard" >> beam.Create([(i, None) for i in range(num_shards)]))
    return ({"records": by_shard, "shard": every_shard}
            | "GroupByShard" >> beam.CoGroupByKey()
            | "WriteShard" >> beam.MapTuple(self._write_shard,
                                            beam.pvalue.AsSingleton(cleared))
            | "ListShards" >> beam.combiners.ToList()
            | "WriteManifest" >> beam.Map(
                lambda entries: sharded_io.write_manifest(prefix, suffix, num_shards, entries)))

  def _write_shard(self, index, grouped, _cleared=None):
    path = sharded_io.shard_path(self.prefix, index, self.num_shards, self.suffix)
    records = sharded_io._sorted(grouped["records"])  # pylint: disable=protected-access
    data = sharded_io.encode_shard(records, self.record_format, self.header)
    sharded_io.atomic_write(path, data)
    beam.metrics.Metrics.counter("gcml", "shards_written").inc()
    return sharded_io._entry(path, data)  # pylint: disable=protected-access
