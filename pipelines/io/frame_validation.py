"""Reading and validating frame-level feature files on Beam and in memory.

Both engines apply `frame_features.parse_frame_item` to every record of every
file through the readers' one record-checking path (`record_checks`): corrupt
TFRecord frames are rejections, one record per id is kept (the one whose
bytes sort first; the others are `duplicate_id`) and `frames/valid_items` is
counted. Their rejections, written by `rejected_beam.WriteRejected` or
`rejected.write_rejected_local`, are the same bytes.
"""

import functools
from typing import NamedTuple


from pipelines.io import record_checks
from pipelines.io.features import DEFAULT_MAX_ABS_FEATURE
from pipelines.io import frame_features as ff

VALID_ITEMS = "frames/valid_items"


class LocalFrames(NamedTuple):
  items: dict  # id -> FrameItem
  rejections: list  # Rejection
  stats: dict  # name -> count


def frame_checks(modalities, max_abs: float = DEFAULT_MAX_ABS_FEATURE) -> record_checks.RecordCheck:
  """The frame-level reader's `RecordCheck` (`parse_frame_item`, `shown_record`).

  Args:
    modalities: the feature lists every record must have, with their sizes.
    max_abs: largest magnitude a dequantised value may have.

  Returns:
    The RecordCheck both engines apply.
  """
  return record_checks.RecordCheck(
      functools.partial(ff.parse_frame_item, modalities=tuple(modalities), max_abs=max_abs),
      ff.shown_record, VALID_ITEMS)


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
  return LocalFrames(*record_checks.read_checked_local(
      paths, frame_checks(modalities, max_abs_feature), stage))
