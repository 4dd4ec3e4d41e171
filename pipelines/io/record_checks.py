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
from typing import Any

from pipelines.errors import InputError
from pipelines.io import tfrecord_files
from pipelines.io.rejected import Rejection, binary_record

DUPLICATE_ID = "duplicate_id"
BATCH_RECORDS = 4096  # records checked together by `RecordCheck.parse_many` (at least)


@dataclasses.dataclass(frozen=True)
class RecordCheck:
  """What a reader does with one record.

  Attributes:
    parse: record bytes -> an item (with an `id`) or a reason string.
    shown: record bytes -> the text written to `rejected/` (`id=<id> b64:...`).
    valid_key: the stats key that counts the kept items.
    parse_many: a list of records -> `parse`'s result for each, quicker per
      record (the in-memory readers use it); None: `parse` one by one.
  """
  parse: Callable[[bytes], Any]
  shown: Callable[[bytes], str]
  valid_key: str
  parse_many: Callable[[list], list] | None = None


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
  by_id, rejections, batch = {}, [], []

  def flush():  # the batch's results, in file order
    results = (checks.parse_many(batch) if checks.parse_many is not None
               else [checks.parse(r) for r in batch])
    for record, result in zip(batch, results):
      if isinstance(result, str):
        rejections.append(Rejection(stage, result, checks.shown(record)))
      else:
        by_id.setdefault(result.id, []).append((record, result))
    batch.clear()

  for block in _blocks(paths, stage, rejections, flush):
    batch.extend(block)
    if len(batch) >= BATCH_RECORDS:
      flush()
  flush()
  items = {}
  for item_id, records in by_id.items():
    items[item_id], rejected = keep_first(item_id, records, stage)
    rejections.extend(rejected)
  return items, rejections, ({checks.valid_key: len(items)} if items else {})


def read_checked_ids_local(paths: list, checks: RecordCheck, stage: str, parse_many=None):
  """`read_checked_local` keeping only the ids: what `gcml validate` writes, in less memory.

  Holds one id per kept item and no record: when an id comes twice, the
  files are read a second time for the records of the repeated ids only, and
  `keep_first` rejects the same records as `read_checked_local`.

  Args:
    paths: TFRecord files (already checked).
    checks: the reader's RecordCheck.
    stage: stage name written in rejections.
    parse_many: replaces `checks.parse_many`: results need only an `id` (e.g.
      `features.parse_items(ids_only=True)`); None: `checks`'.

  Returns:
    ({id: the number of its first record}, [Rejection], {valid_key: count} or {}).

  Raises:
    InputError: a file cannot be read.
  """
  first, repeated, rejections, batch = {}, {}, [], []
  count = 0  # records before the batch
  parse_many = parse_many or checks.parse_many

  def flush():
    nonlocal count
    results = (parse_many(batch) if parse_many is not None
               else [checks.parse(r) for r in batch])
    for number, (record, result) in enumerate(zip(batch, results), count):
      if isinstance(result, str):
        rejections.append(Rejection(stage, result, checks.shown(record)))
      elif first.setdefault(result.id, number) != number:
        repeated[number] = result.id
    count += len(batch)
    batch.clear()

  for block in _blocks(paths, stage, rejections, flush):
    batch.extend(block)
    if len(batch) >= BATCH_RECORDS:
      flush()
  flush()
  if repeated:
    wanted = dict(repeated)
    wanted.update({first[item_id]: item_id for item_id in set(repeated.values())})
    by_id = {}
    number = 0
    for block in _blocks(paths, stage, [], lambda: None):
      for record in block:
        if number in wanted:
          by_id.setdefault(wanted[number], []).append((record, None))
        number += 1
    for item_id, records in by_id.items():
      rejections.extend(keep_first(item_id, records, stage)[1])
  return first, rejections, ({checks.valid_key: len(first)} if first else {})


def _blocks(paths: list, stage: str, rejections: list, before_rejection):
  """The records of `paths`, a list at a time; corrupt frames go to `rejections`.

  `before_rejection()` is called before each rejection is added.
  """
  for path in paths:
    try:
      for block in tfrecord_files.record_blocks_or_rejections(path, stage):
        if isinstance(block, Rejection):
          before_rejection()
          rejections.append(block)
        else:
          yield block
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
