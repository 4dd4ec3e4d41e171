"""Feature records read as matrices: what `features.read_features_local` keeps, without Items.

The examples engine needs each kept item's vectors as rows of one float32
matrix per modality. `read_feature_rows_local` reads and checks the records
as `record_checks.read_checked_local` does with `features.feature_checks`
(the same rejections in the same order, the same kept record per id, the
same count), but decodes the plain valid records of a batch straight into
matrices (`features.parse_plain`) instead of one `Item` and one dict per
record; only the other records go through `features.parse_item`.
"""

import dataclasses

import numpy as np

from pipelines.errors import InputError
from pipelines.io import features as features_lib
from pipelines.io import record_checks, tfrecord_files
from pipelines.io.rejected import Rejection

BATCH_RECORDS = 1 << 16  # records decoded together


@dataclasses.dataclass
class FeatureRows:
  """The kept items' vectors as matrices, and what the reader refused.

  Attributes:
    row: id -> its row in the matrices, ids in first-seen order (the
      order of `read_features_local`'s items).
    matrices: modality name -> float32 matrix.
    rejections: the Rejections, in `read_features_local`'s order.
    stats: {`features/valid_items`: count}, or {} without items.
  """
  row: dict
  matrices: dict
  rejections: list
  stats: dict


def _records(paths: list, stage: str) -> tuple:
  """Every record of `paths`, and each corrupt frame's (records before it, Rejection)."""
  records, frames = [], []
  for path in paths:
    try:
      for record in tfrecord_files.records_or_rejections(path, stage):
        if isinstance(record, Rejection):
          frames.append((len(records), record))
        else:
          records.append(record)
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
  return records, frames


def read_feature_rows_local(paths: list, modalities, stage: str,
                            max_abs: float = features_lib.DEFAULT_MAX_ABS_FEATURE
                            ) -> FeatureRows:
  """Reads and checks feature records like `features.read_features_local`, as matrices.

  Args:
    paths, modalities, stage: as `features.read_features_local`.
    max_abs: its `max_abs_feature`.

  Returns:
    The FeatureRows.
  """
  checks = features_lib.feature_checks(modalities, max_abs=max_abs)
  records, frames = _records(paths, stage)
  ids = [None] * len(records)  # each valid record's id
  row_of = np.full(len(records), -1, np.int64)  # each valid record's row
  parts = {m.name: [] for m in modalities}
  refused, rows = [], 0
  for start in range(0, len(records), BATCH_RECORDS):
    batch = records[start:start + BATCH_RECORDS]
    plain, plain_ids, _, arrays = features_lib.parse_plain(
        batch, modalities, max_abs=max_abs)
    for name, values in arrays.items():
      parts[name].append(values)
    row_of[plain + start] = np.arange(rows, rows + len(plain))
    rows += len(plain)
    for i, item_id in zip(plain.tolist(), plain_ids):
      ids[start + i] = item_id
    others = np.ones(len(batch), bool)
    others[plain] = False
    for i in np.flatnonzero(others).tolist():
      result = checks.parse(batch[i])
      if isinstance(result, str):
        refused.append((start + i, Rejection(stage, result, checks.shown(batch[i]))))
        continue
      ids[start + i], row_of[start + i] = result.id, rows
      rows += 1
      for name in parts:
        parts[name].append(result.features[name][None, :].astype(np.float32, copy=False))
  rejections = [r for _, _, r in sorted([(i, 1, r) for i, r in refused] +
                                        [(i, 0, r) for i, r in frames], key=lambda t: t[:2])]
  first, repeated = {}, {}
  for number, item_id in enumerate(ids):
    if item_id is not None and first.setdefault(item_id, number) != number:
      repeated.setdefault(item_id, [first[item_id]]).append(number)
  for item_id in [i for i in first if i in repeated]:  # first-seen order, as `by_id`
    kept, rejected = record_checks.keep_first(
        item_id, [(records[n], n) for n in repeated[item_id]], stage)
    first[item_id] = kept
    rejections.extend(rejected)
  del records
  matrices = {m.name: np.concatenate(parts[m.name]) if parts[m.name]
              else np.zeros((0, m.dim), np.float32) for m in modalities}
  row = dict(zip(first, row_of[list(first.values())].tolist()))
  return FeatureRows(row, matrices, rejections,
                     {checks.valid_key: len(row)} if row else {})
