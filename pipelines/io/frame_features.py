"""Frame-level features: YouTube-8M `tf.train.SequenceExample` records, validated.

Layout (the YouTube-8M frame-level release):
  context:       `id` (bytes, one), optional `labels` (int64 list).
  feature_lists: one list per modality (default `rgb` 1024, `audio` 128), one
                 Feature per second of video. A frame is either quantised, a
                 bytes_list holding one string of `dim` bytes, or a float_list
                 of `dim` floats. All modalities have the same number of frames.

Dequantisation (YouTube-8M's starter code, `utils.Dequantize`):
  value = byte * (max - min) / 255 + (max - min) / 512 + min, min = -2, max = 2,
i.e. byte * 4/255 - 2 plus a bias of 4/512 that centres the bin. Float frames
are taken as they are.

Refused records get the video-level reasons of `pipelines.features` (missing,
empty or control-character id, id not bytes, labels not int64, not a record)
plus per modality `<m>_missing`, `<m>_empty` (no frames), `<m>_wrong_length`,
`<m>_not_float` (a frame neither bytes nor floats, or of mixed kinds),
`<m>_not_finite`, `<m>_out_of_range` (|value| > max_abs), and
`frame_count_mismatch`. Duplicate ids follow `pipelines.features`: the record
whose serialized bytes sort first is kept.
"""

from typing import NamedTuple

import numpy as np

from pipelines.io import item_ids, tf_example
from pipelines.io.features import (BAD_LABELS, DEFAULT_MAX_ABS_FEATURE, MISSING_ID,
                                NOT_AN_EXAMPLE, Modality)

DEFAULT_FRAME_MODALITIES = (Modality("rgb", 1024), Modality("audio", 128))
QUANT_MIN = -2.0
QUANT_MAX = 2.0
NOT_A_SEQUENCE_EXAMPLE = NOT_AN_EXAMPLE
FRAME_COUNT_MISMATCH = "frame_count_mismatch"


def frame_name(modality: str) -> str:
  """The frame-level name of a video-level modality (`mean_rgb` -> `rgb`, YouTube-8M's names)."""
  return modality[len("mean_"):] if modality.startswith("mean_") else modality


class FrameItem(NamedTuple):
  """One item's validated frame-level features."""
  id: str
  frames: dict  # modality name -> float32 array [num_frames, dim]
  labels: tuple  # int64 labels (may be empty)


def dequantize(data, min_value: float = QUANT_MIN, max_value: float = QUANT_MAX) -> np.ndarray:
  """Quantised bytes to float32, as YouTube-8M's starter code does.

  Args:
    data: bytes or a uint8 array.
    min_value: the value range's lower end.
    max_value: the value range's upper end.

  Returns:
    float32 array, one value per byte.
  """
  q = np.frombuffer(data, np.uint8) if isinstance(data, bytes) else np.asarray(data, np.uint8)
  span = max_value - min_value
  return (q.astype(np.float32) * np.float32(span / 255.0)
          + np.float32(span / 512.0 + min_value)).astype(np.float32)


def quantize(values: np.ndarray, min_value: float = QUANT_MIN,
             max_value: float = QUANT_MAX) -> np.ndarray:
  """The inverse of `dequantize` up to rounding (values clipped to the range).

  Args:
    values: float array.
    min_value: the value range's lower end.
    max_value: the value range's upper end.

  Returns:
    uint8 array of the same shape.
  """
  span = max_value - min_value
  q = np.round((np.asarray(values, np.float64) - min_value - span / 512.0) * 255.0 / span)
  return np.clip(q, 0, 255).astype(np.uint8)


def encode(item_id: str, frames: dict, labels=(), quantized: bool = True) -> bytes:
  """Serializes one item as a deterministic SequenceExample.

  Args:
    item_id: the context id.
    frames: modality name -> array [num_frames, dim]; uint8 arrays are written
      as they are, float arrays quantised when `quantized`.
    labels: int64 labels written to the context (omitted when empty).
    quantized: write frames as bytes (True) or as float lists.

  Returns:
    The serialized tf.train.SequenceExample, keys in sorted order.
  """
  context = {"id": item_id}
  if len(labels):
    context["labels"] = np.asarray(labels, np.int64)
  lists = b""
  for name in sorted(frames):
    f = np.asarray(frames[name])
    if f.dtype == np.uint8 or quantized:
      rows = f if f.dtype == np.uint8 else quantize(f)
      feats = b"".join(tf_example._field(0x0A, tf_example._feature(r.tobytes())) for r in rows)
    else:
      feats = b"".join(tf_example._field(0x0A, tf_example._feature(r.astype(np.float32)))
                       for r in f)
    lists += tf_example._field(0x0A, tf_example._field(0x0A, name.encode("utf-8"))
                               + tf_example._field(0x12, feats))
  # A SequenceExample's context (tag 1) is encoded like an Example's features.
  return tf_example.encode(context) + tf_example._field(0x12, lists)


def _frames(feature_list, m: Modality, max_abs: float) -> np.ndarray | str:
  """One modality's frames as float32 [n, dim], or a rejection reason."""
  rows = []
  kinds = set()
  for f in feature_list.feature:
    kind = f.WhichOneof("kind")
    kinds.add(kind)
    if kind == "bytes_list" and len(f.bytes_list.value) == 1:
      raw = f.bytes_list.value[0]
      if len(raw) != m.dim:
        return f"{m.name}_wrong_length"
      rows.append(dequantize(raw))
    elif kind == "float_list":
      if len(f.float_list.value) != m.dim:
        return f"{m.name}_wrong_length"
      rows.append(np.asarray(f.float_list.value, np.float32))
    else:
      return f"{m.name}_not_float"
  if not rows:
    return f"{m.name}_empty"
  if len(kinds) > 1:
    return f"{m.name}_not_float"
  out = np.stack(rows)
  if not np.isfinite(out).all():
    return f"{m.name}_not_finite"
  if float(np.abs(out).max()) > max_abs:
    return f"{m.name}_out_of_range"
  return out


def parse_frame_item(data: bytes, modalities=DEFAULT_FRAME_MODALITIES, id_key: str = "id",
                     labels_key: str = "labels",
                     max_abs: float = DEFAULT_MAX_ABS_FEATURE) -> FrameItem | str:
  """Validates one serialized SequenceExample. Returns a FrameItem or a reason.

  Args:
    data: a serialized tf.train.SequenceExample.
    modalities: the feature lists the record must have, with their sizes.
    id_key: name of the context id feature.
    labels_key: name of the optional context int64 labels feature.
    max_abs: largest magnitude a dequantised value may have.

  Returns:
    A FrameItem, or a reason such as `rgb_wrong_length`.
  """
  from tensorflow.core.example import example_pb2  # pylint: disable=import-outside-toplevel
  seq = example_pb2.SequenceExample()
  try:
    seq.ParseFromString(data)
  except Exception:  # google.protobuf.message.DecodeError
    return NOT_A_SEQUENCE_EXAMPLE
  ctx = seq.context.feature
  if id_key not in ctx:
    return MISSING_ID
  idf = ctx[id_key]
  if idf.WhichOneof("kind") != "bytes_list":
    return item_ids.ID_NOT_BYTES if idf.WhichOneof("kind") else MISSING_ID
  if len(idf.bytes_list.value) != 1:
    return MISSING_ID
  item_id, reason = item_ids.decode_id(idf.bytes_list.value[0])
  if reason:
    return reason
  frames = {}
  for m in modalities:
    if m.name not in seq.feature_lists.feature_list:
      return f"{m.name}_missing"
    f = _frames(seq.feature_lists.feature_list[m.name], m, max_abs)
    if isinstance(f, str):
      return f
    frames[m.name] = f
  if len({f.shape[0] for f in frames.values()}) > 1:
    return FRAME_COUNT_MISMATCH
  labels = ()
  if labels_key in ctx:
    lf = ctx[labels_key]
    if lf.WhichOneof("kind") not in ("int64_list", None):
      return BAD_LABELS
    labels = tuple(lf.int64_list.value)
  return FrameItem(item_id, frames, labels)


def shown_record(data: bytes, id_key: str = "id") -> str:
  """A refused record as text: `id=<id> b64:...` where the id is readable, else `b64:...`.

  Args:
    data: the record's bytes.
    id_key: the context feature holding the id.

  Returns:
    The text.
  """
  from tensorflow.core.example import example_pb2  # pylint: disable=import-outside-toplevel
  from pipelines.io.rejected import binary_record  # pylint: disable=import-outside-toplevel
  seq = example_pb2.SequenceExample()
  try:
    seq.ParseFromString(data)
    ids = list(seq.context.feature[id_key].bytes_list.value) if id_key in seq.context.feature \
        else []
  except Exception:  # google.protobuf.message.DecodeError
    ids = []
  if len(ids) == 1:
    item_id = item_ids.normalise(ids[0].decode("utf-8", errors="backslashreplace"))
    return f"id={item_id} {binary_record(data)}"
  return binary_record(data)
