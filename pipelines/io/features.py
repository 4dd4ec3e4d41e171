"""Features (contract 2): YouTube-8M video-level TFRecords, validated.

Each record is a `tf.train.Example` with an id (bytes), one float vector per
modality (names and sizes are flags; default `mean_rgb` 1024 and
`mean_audio` 128) and optional int64 `labels`. Refused records become
`Rejection`s (a value whose magnitude exceeds `--max_abs_feature`, default
1e6, is `<modality>_out_of_range`: it would overflow the model's float32
arithmetic); of several records with the same id one is kept (the one whose
serialized bytes sort first, so the choice does not depend on file order) and
the others are rejected as `duplicate_id`.
"""

import dataclasses
import functools
import math
from typing import NamedTuple

import numpy as np

from pipelines.io import feature_layouts, item_ids, record_checks, tf_example
from pipelines.errors import InputError
# Modality, modalities_flag and parse_modalities are re-exported: the stages, synth/presets
# and tests take contract 2's names from here.
from pipelines.io.modality_spec import (DEFAULT_MODALITIES, Modality,  # noqa: F401
                                        modalities_flag, parse_modalities)
from pipelines.io.rejected import binary_record

NOT_AN_EXAMPLE = "not_a_tf_example"
MISSING_ID = item_ids.MISSING_ID
EMPTY_ID = item_ids.EMPTY_ID
DUPLICATE_ID = record_checks.DUPLICATE_ID
BAD_LABELS = "labels_not_int64"
DEFAULT_MAX_ABS_FEATURE = 1e6


class Item(NamedTuple):
  """One item's validated features."""
  id: str
  features: dict  # modality name -> float32 array of the modality's size
  labels: tuple  # int64 labels (may be empty)


def check_max_abs(value: float) -> float:
  """Validates `--max_abs_feature`: a finite number > 0.

  Args:
    value: the flag's value.

  Returns:
    The value.
  """
  if not math.isfinite(value) or value <= 0:
    raise InputError(f"--max_abs_feature must be a finite number > 0, got {value}")
  return value


def parse_item(data: bytes, modalities, id_key: str = "id", labels_key: str = "labels",
               max_abs: float = DEFAULT_MAX_ABS_FEATURE) -> Item | str:
  """Validates one serialized record. Returns an Item or a rejection reason.

  Args:
    data: a serialized tf.train.Example.
    modalities: the float features the record must have, with their sizes.
    id_key: name of the id feature.
    labels_key: name of the optional int64 labels feature.
    max_abs: largest magnitude a feature value may have.

  Returns:
    An Item, or a reason such as `mean_rgb_out_of_range`.
  """
  try:
    feats = tf_example.parse(data)
  except ValueError:
    return NOT_AN_EXAMPLE
  ids = feats.get(id_key)
  if ids is None or len(ids) != 1:
    return MISSING_ID
  if not isinstance(ids[0], bytes):
    return item_ids.ID_NOT_BYTES
  item_id, reason = item_ids.decode_id(ids[0])
  if reason:
    return reason
  vectors = {}
  for m in modalities:
    v = feats.get(m.name)
    if v is None or len(v) == 0:
      return f"{m.name}_missing"
    if not isinstance(v, np.ndarray):
      return f"{m.name}_not_float"
    if v.shape[0] != m.dim:
      return f"{m.name}_wrong_length"
    if not np.isfinite(v).all():
      return f"{m.name}_not_finite"
    if float(np.abs(v).max()) > max_abs:
      return f"{m.name}_out_of_range"
    vectors[m.name] = v
  labels = feats.get(labels_key, [])
  if isinstance(labels, np.ndarray) or (labels and not isinstance(labels[0], int)):
    return BAD_LABELS
  return Item(item_id, vectors, tuple(labels))


class ItemId(NamedTuple):
  """A valid item known by its id alone (`parse_items(ids_only=True)`)."""
  id: str


def parse_items(records: list, modalities, id_key: str = "id", labels_key: str = "labels",
                max_abs: float = DEFAULT_MAX_ABS_FEATURE, ids_only: bool = False) -> list:
  """`parse_item` for many records: the plain, valid ones decoded as one batch.

  Plain records (`feature_batches.plain_record`, most read by layout:
  `feature_layouts.plain_records`) have each modality decoded for the whole
  batch as one matrix and checked there; every other
  record, and every plain one that fails a check, goes through `parse_item`.

  Args:
    records: serialized records.
    modalities, id_key, labels_key, max_abs: as `parse_item`.
    ids_only: a plain valid record's result is its `ItemId` (what `gcml
      validate` keeps), not an Item; other records still give `parse_item`'s.

  Returns:
    `parse_item`'s result (an Item or a reason) for each record, in order.
  """
  rows, ids, labels, arrays = parse_plain(records, modalities, id_key, labels_key, max_abs,
                                         with_labels=not ids_only)
  made = map(ItemId, ids) if ids_only else (
      Item(item_id, {name: values[row] for name, values in arrays.items()}, labels[row])
      for row, item_id in enumerate(ids))
  if len(rows) == len(records):  # every record plain and valid
    return list(made)
  results = [None] * len(records)
  for i, result in zip(rows.tolist(), made):
    results[i] = result
  return [parse_item(r, modalities, id_key, labels_key, max_abs) if result is None else result
          for r, result in zip(records, results)]


def parse_plain(records: list, modalities, id_key: str = "id", labels_key: str = "labels",
                max_abs: float = DEFAULT_MAX_ABS_FEATURE, with_labels: bool = False) -> tuple:
  """The plain records of a batch that `parse_item` accepts, decoded as matrices.

  Args:
    records: serialized records.
    modalities, id_key, labels_key, max_abs: as `parse_item`.
    with_labels: return their labels (tuples, one per record: the costliest
      part for many records); without, labels are still checked.

  Returns:
    (their indices in `records`, increasing; their ids; their labels, or None
    without `with_labels`; {modality name: float32 matrix, one row each}).
    `parse_item` gives each of them the Item of that row; every other record
    needs `parse_item` itself.
  """
  names = {m.name.encode("utf-8"): 4 * m.dim for m in modalities}
  keys = (id_key.encode("utf-8"), labels_key.encode("utf-8"))
  rows, ids, labels, payloads = np.zeros(0, np.int64), [], [] if with_labels else None, {}
  if (len(names) == len(modalities) and all(m.dim > 0 for m in modalities)
      and not set(keys) & set(names) and keys[0] != keys[1]):
    rows, ids, labels, payloads = feature_layouts.plain_records(records, names, *keys,
                                                                with_labels=with_labels)
  arrays, valid = {}, np.ones(len(rows), bool)
  for m in modalities:
    values = (payloads[m.name.encode("utf-8")].view("<f4").astype(np.float32, copy=False)
              if len(rows) else np.zeros((0, m.dim), np.float32))
    with np.errstate(invalid="ignore"):
      valid &= np.isfinite(values).all(axis=1) & (
          np.abs(values).max(axis=1, initial=0).astype(np.float64) <= max_abs)
    arrays[m.name] = values
  if valid.all():
    return rows, ids, labels, arrays
  kept = np.flatnonzero(valid).tolist()
  return (rows[valid], [ids[i] for i in kept],
          None if labels is None else [labels[i] for i in kept],
          {name: values[valid] for name, values in arrays.items()})


def shown_record(data: bytes, id_key: str = "id") -> str:
  """A refused record as text: `id=<id> b64:...` (the id readable, to grep), or `b64:...`.

  Args:
    data: the record's bytes.
    id_key: the feature that holds the id.

  Returns:
    The text written to `rejected/`.
  """
  try:
    ids = tf_example.parse(data).get(id_key)
  except ValueError:
    ids = None
  if ids is not None and len(ids) == 1 and isinstance(ids[0], bytes):
    item_id = item_ids.normalise(ids[0].decode("utf-8", errors="backslashreplace"))
    return f"id={item_id} {binary_record(data)}"
  return binary_record(data)


def feature_checks(modalities, id_key: str = "id", labels_key: str = "labels",
                   max_abs: float = DEFAULT_MAX_ABS_FEATURE) -> record_checks.RecordCheck:
  """The video-level reader's `RecordCheck` (`parse_item`, `shown_record`).

  Args:
    modalities, id_key, labels_key, max_abs: as `parse_item`.

  Returns:
    The RecordCheck that `ReadFeatures` and the in-memory readers apply.
  """
  settings = {"modalities": tuple(modalities), "id_key": id_key, "labels_key": labels_key,
              "max_abs": max_abs}
  return record_checks.RecordCheck(
      functools.partial(parse_item, **settings), functools.partial(shown_record, id_key=id_key),
      "features/valid_items", functools.partial(parse_items, **settings))


@dataclasses.dataclass
class LocalFeatures:
  """One `features.Item` per valid id, and what the readers refused."""
  items: dict  # id -> Item
  rejections: list
  stats: dict


def read_features_local(paths: list, modalities, stage: str,
                        max_abs_feature: float = DEFAULT_MAX_ABS_FEATURE
                        ) -> LocalFeatures:
  """Reads and validates feature records like `features_beam.ReadFeatures`.

  Args:
    paths: TFRecord files (already checked).
    modalities: the float features every record must have.
    stage: stage name written in rejections.
    max_abs_feature: largest magnitude a feature value may have.

  Returns:
    The kept items, the rejections and the `features/valid_items` count.
    Every TFRecord frame of every file is read and each record validated by
    `parse_item`; of several records with one id the one whose bytes sort
    first is kept and the others are `duplicate_id`.
  """
  return LocalFeatures(*record_checks.read_checked_local(
      paths, feature_checks(modalities, max_abs=max_abs_feature), stage))
