"""The Beam transform of `fixed_batches` (`FixedBatches`).

Kept apart so that the in-memory export imports `fixed_batches` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.export.fixed_batches import batch_of, split_bucket


@dataclasses.dataclass
class FixedBatches(beam.PTransform):
  """(id, value) -> lists of (id, value): batches that depend only on the ids.

  The N ids are hashed into ceil(N / batch_size) buckets; each bucket, sorted
  by id, is cut into batches of at most `batch_size`. So an item always sits
  in the same batch at the same place whatever the runner, the bundling or
  the input layout. Costs a count and one GroupByKey of the values.
  """
  batch_size: int

  def __post_init__(self):
    super().__init__()

  def expand(self, pairs):
    size = self.batch_size
    count = pairs | "CountIds" >> beam.combiners.Count.Globally()
    return (pairs
            | "BucketById" >> beam.Map(lambda kv, n: (batch_of(kv[0], max(1, -(-n // size))), kv),
                                       beam.pvalue.AsSingleton(count))
            | "GroupBuckets" >> beam.GroupByKey()
            | "SplitBuckets" >> beam.FlatMap(split_bucket, size))
