"""One record-checking path for the item readers (video-level and frame-level features).

A reader is a `RecordCheck`: how one record is parsed (a valid item, or the
reason it is refused), how a refused record is shown, and the stats key of
the valid items. Every reader then does the same things, on Beam
(`ReadCheckedRecords`) and in memory (`read_checked_local`):

* every TFRecord frame of every file is read (`tfrecord_files`; corrupt
  frames are rejections);
* each record is checked (`check`): a refused one becomes
  `Rejection(stage, reason, shown(record))`;
* of several records with one id, the one whose bytes sort first is kept and
  the others are `duplicate_id` rejections (`keep_first`);
* the kept items are counted under `valid_key`.

So both engines write the same rejections and counts (tested per reader).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import apache_beam as beam

from pipelines.errors import InputError
from pipelines.io import tfrecord_files
from pipelines.io.rejected import Rejection, binary_record

DUPLICATE_ID = "duplicate_id"


@dataclasses.dataclass(frozen=True)
class RecordCheck:
  """What a reader does with one record.

  Attributes:
    parse: record bytes -> an item (with an `id`) or a reason string.
    shown: record bytes -> the text written to `rejected/` (`id=<id> b64:...`).
    valid_key: the stats key that counts the kept items.
  """
  parse: Callable[[bytes], Any]
  shown: Callable[[bytes], str]
  valid_key: str


def check(record: bytes, checks: RecordCheck, stage: str):
  """One record: its item, or its Rejection.

  Args:
    record: the record's bytes.
    checks: the reader's RecordCheck.
    stage: stage name written in the rejection.

  Returns:
    The parsed item, or a `Rejection`.
  """
  result = checks.parse(record)
  if isinstance(result, str):
    return Rejection(stage, result, checks.shown(record))
  return result


def keep_first(item_id: str, records: list, stage: str):
  """Of one id's (bytes, item) records, the item whose bytes sort first, and the
  others' `duplicate_id` rejections."""
  records = sorted(records, key=lambda r: r[0])
  rejected = [Rejection(stage, DUPLICATE_ID, f"id={item_id} {binary_record(data)}")
              for data, _ in records[1:]]
  return records[0][1], rejected


def read_checked_local(paths: list, checks: RecordCheck, stage: str):
  """Reads and checks records in memory, as `ReadCheckedRecords` does.

  Args:
    paths: TFRecord files (already checked).
    checks: the reader's RecordCheck.
    stage: stage name written in rejections.

  Returns:
    ({id: item}, [Rejection], {valid_key: count} or {} without items).

  Raises:
    InputError: a file cannot be read.
  """
  by_id, rejections = {}, []
  for path in paths:
    try:
      for record in tfrecord_files.records_or_rejections(path, stage):
        result = record if isinstance(record, Rejection) else check(record, checks, stage)
        if isinstance(result, Rejection):
          rejections.append(result)
        else:
          by_id.setdefault(result.id, []).append((record, result))
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
  items = {}
  for item_id, records in by_id.items():
    items[item_id], rejected = keep_first(item_id, records, stage)
    rejections.extend(rejected)
  return items, rejections, ({checks.valid_key: len(items)} if items else {})


class _CheckRecords(beam.DoFn):

  def __init__(self, checks: RecordCheck, stage: str, namespace: str):
    self._checks, self._stage = checks, stage
    self._read = beam.metrics.Metrics.counter(namespace, "records_read")
    self._rejected = beam.metrics.Metrics.counter(namespace, "records_rejected")

  def process(self, record: bytes):
    self._read.inc()
    result = check(record, self._checks, self._stage)
    if isinstance(result, Rejection):
      self._rejected.inc()
      yield beam.pvalue.TaggedOutput("rejected", result)
    else:
      yield (result.id, (record, result))


class _KeepOnePerId(beam.DoFn):

  def __init__(self, stage: str):
    self._stage = stage

  def process(self, kv):
    item, rejected = keep_first(kv[0], list(kv[1]), self._stage)
    yield item
    for r in rejected:
      yield beam.pvalue.TaggedOutput("rejected", r)


class CheckedRecords(NamedTuple):
  items: beam.PCollection  # one item per id
  rejected: beam.PCollection  # Rejection
  stats: beam.PCollection  # (name, count)


class ReadCheckedRecords(beam.PTransform):
  """Reads and checks records on Beam; one item per id (see the module docstring)."""

  def __init__(self, paths: list, checks: RecordCheck, stage: str, namespace: str):
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
            | "ReadRecords" >> tfrecord_files.ReadTFRecordFiles(self._stage))
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
