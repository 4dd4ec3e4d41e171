"""Feature records built field by field, for the tests of the feature readers' wire-format paths.

`test_feature_batches.py` and `test_feature_layouts.py` build plain and
not-quite-plain `Example`s from these pieces (a module of helpers, not tests).
"""

import numpy as np

from pipelines.io import tf_example

NAMES = {b"rgb": 12, b"audio": 8}  # modality name (UTF-8) -> payload bytes
RGB, AUDIO = np.array([0.5, -1.0, 2.0], np.float32), np.array([0.25, 0.0], np.float32)


def field(tag: int, payload: bytes) -> bytes:
  """A length-delimited protobuf field: tag, varint length, payload."""
  return tf_example._field(tag, payload)  # pylint: disable=protected-access


def entry(key: str, feature: bytes) -> bytes:
  """One map entry of `Features`: key, then the serialized `Feature`."""
  return field(0x0A, field(0x0A, key.encode()) + field(0x12, feature))


def floats(values) -> bytes:
  """A `Feature` holding a packed float list."""
  return field(0x12, field(0x0A, np.asarray(values, "<f4").tobytes()))


def bytes_feature(raw: bytes) -> bytes:
  """A `Feature` holding one bytes value."""
  return field(0x0A, field(0x0A, raw))


def example(*entries: bytes) -> bytes:
  """An `Example` of these map entries, in this order."""
  return field(0x0A, b"".join(entries))


def record(raw_id: bytes, labels: bytes | None = None, rgb=RGB) -> bytes:
  """id, rgb, audio, then labels as this packed payload (any bytes)."""
  entries = [entry("id", bytes_feature(raw_id)), entry("rgb", floats(rgb)),
             entry("audio", floats(AUDIO))]
  if labels is not None:
    entries.append(entry("labels", field(0x1A, field(0x0A, labels))))
  return example(*entries)
