"""The Beam transforms of `skew_join`.

Kept apart so that the in-memory engines import `skew_join` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.examples import skew_join


class _SpreadRecords(beam.DoFn):
  """Keys each record by (key, sub-key); hot keys rotate over their sub-keys."""

  def setup(self):
    self._counter = 0

  def process(self, kv, hot):
    key, payload = kv
    parts = hot.get(key, 1)
    sub = 0
    if parts > 1:
      self._counter += 1
      sub = self._counter % parts
    yield (key, sub), payload


def _copy_value(kv, hot):
  key, value = kv
  for sub in range(hot.get(key, 1)):
    yield (key, sub), value


def _emit(_, grouped):
  values = grouped["value"]
  value = values[0] if values else None
  if len(values) > 1:
    raise ValueError("SkewJoin needs at most one value per key")
  for payload in grouped["record"]:
    yield payload, value


@dataclasses.dataclass
class SkewJoin(beam.PTransform):
  """Joins (key, payload) records to (key, value) values, unique per key.

  Input: a pair (values, records) of PCollections. Output: (payload, value)
  for every record, with value None where the key has no value.

  Attributes:
    hot_threshold: keys with more records than this are split.
  """
  hot_threshold: int = skew_join.DEFAULT_HOT_THRESHOLD

  def __post_init__(self):
    super().__init__()
    if self.hot_threshold < 1:
      raise ValueError("hot_threshold must be at least 1")

  def expand(self, pcolls):
    values, records = pcolls
    threshold = self.hot_threshold
    hot = (records
           | "OnePerRecord" >> beam.Map(lambda kv: (kv[0], 1))
           | "CountPerKey" >> beam.CombinePerKey(sum)
           | "HotKeys" >> beam.Filter(lambda kv: kv[1] > threshold)
           | "SubKeys" >> beam.Map(lambda kv: (kv[0], -(-kv[1] // threshold))))
    hot_view = beam.pvalue.AsDict(hot)
    spread = records | "SpreadRecords" >> beam.ParDo(_SpreadRecords(), hot_view)
    copied = values | "CopyValues" >> beam.FlatMap(_copy_value, hot_view)
    return ({"value": copied, "record": spread}
            | "Group" >> beam.CoGroupByKey()
            | "Emit" >> beam.FlatMapTuple(_emit))
