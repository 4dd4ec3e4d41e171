"""Reading and validating frame-level feature files on Beam and in memory.

Both engines apply `frame_features.parse_frame_item` to every record of every
file, turn corrupt TFRecord frames into rejections (`tfrecord_files`), keep
one record per id (the one whose bytes sort first; the others are
`duplicate_id`) and count `frames/valid_items`. Their rejections, written by
`rejected.WriteRejected` or `clustering.local_io.write_rejected_local`, are the
same bytes.
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines.io import tfrecord_files
from pipelines.errors import InputError
from pipelines.io.features import DEFAULT_MAX_ABS_FEATURE, DUPLICATE_ID
from pipelines.io import frame_features as ff
from pipelines.io.rejected import Rejection, binary_record

VALID_ITEMS = "frames/valid_items"


class LocalFrames(NamedTuple):
  items: dict  # id -> FrameItem
  rejections: list  # Rejection
  stats: dict  # name -> count


def _parse(record: bytes, modalities, stage: str, max_abs: float):
  result = ff.parse_frame_item(record, modalities, max_abs=max_abs)
  if isinstance(result, ff.FrameItem):
    return result
  return Rejection(stage, result, ff.shown_record(record))


def _keep_first(item_id: str, records: list, stage: str):
  """The kept FrameItem and the duplicates' rejections of one id."""
  records = sorted(records, key=lambda r: r[0])
  rejected = [Rejection(stage, DUPLICATE_ID, f"id={item_id} {binary_record(data)}")
              for data, _ in records[1:]]
  return records[0][1], rejected


def read_frames_local(paths: list, modalities=ff.DEFAULT_FRAME_MODALITIES,
                      stage: str = "validate",
                      max_abs_feature: float = DEFAULT_MAX_ABS_FEATURE) -> LocalFrames:
  """Reads and validates frame-level records in memory, like `ReadFrameFeatures`.

  Args:
    paths: TFRecord files (already checked).
    modalities: the feature lists every record must have, with their sizes.
    stage: stage name written in rejections.
    max_abs_feature: largest magnitude a dequantised value may have.

  Returns:
    The kept items by id, the rejections and the `frames/valid_items` count.

  Raises:
    InputError: if a file cannot be read.
  """
  by_id, rejections = {}, []
  for path in paths:
    try:
      for record in tfrecord_files.records_or_rejections(path, stage):
        if isinstance(record, Rejection):
          rejections.append(record)
          continue
        result = _parse(record, modalities, stage, max_abs_feature)
        if isinstance(result, Rejection):
          rejections.append(result)
        else:
          by_id.setdefault(result.id, []).append((record, result))
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
  items = {}
  for item_id, records in by_id.items():
    items[item_id], rejected = _keep_first(item_id, records, stage)
    rejections.extend(rejected)
  return LocalFrames(items, rejections, {VALID_ITEMS: len(items)} if items else {})


class _ParseFrames(beam.DoFn):

  def __init__(self, modalities, stage, max_abs):
    self._args = (tuple(modalities), stage, max_abs)

  def process(self, record: bytes):
    result = _parse(record, *self._args)
    if isinstance(result, Rejection):
      yield beam.pvalue.TaggedOutput("rejected", result)
    else:
      yield (result.id, (record, result))


class _KeepOnePerId(beam.DoFn):

  def __init__(self, stage):
    self._stage = stage

  def process(self, kv):
    item, rejected = _keep_first(kv[0], list(kv[1]), self._stage)
    yield item
    for r in rejected:
      yield beam.pvalue.TaggedOutput("rejected", r)


class ReadFrameFeaturesResult(NamedTuple):
  items: beam.PCollection  # FrameItem, one per id
  rejected: beam.PCollection  # Rejection
  stats: beam.PCollection  # (name, count)


@dataclasses.dataclass
class ReadFrameFeatures(beam.PTransform):
  """Reads and validates frame-level records on Beam; one `FrameItem` per id.

  Attributes:
    paths: TFRecord files (see `inputs.check_files`).
    modalities: the feature lists every record must have, with their sizes.
    stage: stage name written in rejection records.
    max_abs_feature: largest magnitude a dequantised value may have.
  """
  paths: list
  modalities: tuple = ff.DEFAULT_FRAME_MODALITIES
  stage: str = "validate"
  max_abs_feature: float = DEFAULT_MAX_ABS_FEATURE

  def __post_init__(self):
    super().__init__()

  def expand(self, pbegin):
    read = (pbegin
            | "ListFrameFiles" >> beam.Create(self.paths)
            | "ReadFrameRecords" >> tfrecord_files.ReadTFRecordFiles(self.stage))
    parsed = (read.records
              | "ParseFrames" >> beam.ParDo(_ParseFrames(
                  self.modalities, self.stage, self.max_abs_feature)).with_outputs(
                      "rejected", main="items"))
    unique = (parsed.items
              | "GroupFramesById" >> beam.GroupByKey()
              | "KeepOneFramePerId" >> beam.ParDo(_KeepOnePerId(self.stage)).with_outputs(
                  "rejected", main="items"))
    rejected = ((read.rejected, parsed.rejected, unique.rejected)
                | "FlattenFrameRejected" >> beam.Flatten())
    stats = unique.items | "CountFrameItems" >> beam.Map(lambda _: (VALID_ITEMS, 1))
    return ReadFrameFeaturesResult(unique.items, rejected, stats)
