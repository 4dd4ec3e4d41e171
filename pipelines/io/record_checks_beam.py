"""The Beam transforms of `record_checks`.

Kept apart so that the in-memory engines import `record_checks` without Beam
(`pipelines/beam_parts.py`).
"""
from typing import NamedTuple

import apache_beam as beam

from pipelines.io import record_checks, tfrecord_files_beam


class _CheckRecords(beam.DoFn):

  def __init__(self, checks: record_checks.RecordCheck, stage: str, namespace: str):
    self._checks, self._stage = checks, stage
    self._read = beam.metrics.Metrics.counter(namespace, "records_read")
    self._rejected = beam.metrics.Metrics.counter(namespace, "records_rejected")

  def process(self, record: bytes):
    self._read.inc()
    result = record_checks.check(record, self._checks, self._stage)
    if isinstance(result, record_checks.Rejection):
      self._rejected.inc()
      yield beam.pvalue.TaggedOutput("rejected", result)
    else:
      yield (result.id, (record, result))


class _KeepOnePerId(beam.DoFn):

  def __init__(self, stage: str):
    self._stage = stage

  def process(self, kv):
    item, rejected = record_checks.keep_first(kv[0], list(kv[1]), self._stage)
    yield item
    for r in rejected:
      yield beam.pvalue.TaggedOutput("rejected", r)


class CheckedRecords(NamedTuple):
  items: beam.PCollection  # one item per id
  rejected: beam.PCollection  # record_checks.Rejection
  stats: beam.PCollection  # (name, count)


class ReadCheckedRecords(beam.PTransform):
  """Reads and checks records on Beam; one item per id (see the module docstring)."""

  def __init__(self, paths: list, checks: record_checks.RecordCheck, stage: str, namespace: str):
    """Args:
      paths: TFRecord files (see `inputs.check_files`).
      checks: the reader's RecordCheck.
      stage: stage name written in rejections.
      namespace: the Beam metrics namespace of the read and rejected counters.
    """
    super().__init__()
    self._paths, self._checks, self._stage, self._namespace = paths, checks, stage, namespace

  def expand(self, pbegin):
    read = (pbegin
            | "ListFiles" >> beam.Create(self._paths)
            | "ReadRecords" >> tfrecord_files_beam.ReadTFRecordFiles(self._stage))
    parsed = (read.records
              | "CheckRecords" >> beam.ParDo(_CheckRecords(
                  self._checks, self._stage, self._namespace)).with_outputs(
                      "rejected", main="items"))
    unique = (parsed.items
              | "GroupById" >> beam.GroupByKey()
              | "KeepOnePerId" >> beam.ParDo(_KeepOnePerId(self._stage)).with_outputs(
                  "rejected", main="items"))
    rejected = ((read.rejected, parsed.rejected, unique.rejected)
                | "FlattenRejected" >> beam.Flatten())
    key = self._checks.valid_key
    stats = unique.items | "CountItems" >> beam.Map(lambda _: (key, 1))
    return CheckedRecords(unique.items, rejected, stats)
