"""Plain feature records (contract 2) read from their wire format, for checks in batches.

The in-memory engines read every feature record once; parsing each with
protobuf and checking its vectors one by one cost about 60 µs a record.
`plain_record` walks the wire format of a plain record itself (the outer
`Example`, then one map entry per feature: key, then a `Feature` holding one
packed list) and returns its float payloads as bytes, so that
`features.parse_items` decodes each modality for a whole batch with one
`np.frombuffer` and runs the finite and range checks on the batch.

A record goes the exact way, `features.parse_item` (protobuf), whenever
anything about it is not plain: a feature not named by the reader (an extra
feature), a key twice, a list that is not packed or not of the expected
kind, a modality of another length, a value that is not finite or out of
range, an id that `item_ids.decode_id` refuses, labels that are not int64,
trailing or missing bytes. So every rejection and every kept item is the
one `parse_item` gives; only the plain, valid records take the quick path,
and for them the wire format leaves no room for another reading.
"""

from pipelines.io import item_ids

BYTES_LIST, FLOAT_LIST, INT64_LIST = 0x0A, 0x12, 0x1A  # `Feature`'s oneof fields, as tags


def _varint(data: bytes, pos: int) -> tuple[int, int]:
  """A varint at `pos`: (value, position after it); (-1, pos) if over 10 bytes.

  Raises:
    IndexError: the data ends inside it.
  """
  byte = data[pos]
  if byte < 0x80:
    return byte, pos + 1
  value, shift = byte & 0x7F, 7
  for i in range(pos + 1, pos + 10):
    byte = data[i]
    value |= (byte & 0x7F) << shift
    if byte < 0x80:
      return value, i + 1
    shift += 7
  return -1, pos


def _entries(data: bytes):
  """The (key, list tag, list start, list end) of a plain serialized Example; None otherwise.

  Plain: one `features` field spanning the record; each map entry exactly a
  key and a value; each value a `Feature` with exactly one list.
  """
  size = len(data)
  if size < 2 or data[0] != 0x0A:
    return None
  length, pos = _varint(data, 1)
  if pos + length != size:
    return None
  entries = []
  while pos < size:
    if data[pos] != 0x0A:
      return None
    length, start = _varint(data, pos + 1)
    end = start + length
    if length <= 0 or end > size or data[start] != 0x0A:
      return None
    key_length, key_start = _varint(data, start + 1)
    value_tag = key_start + key_length
    if key_length < 0 or value_tag >= end or data[value_tag] != 0x12:
      return None
    length, feature = _varint(data, value_tag + 1)
    if length <= 0 or feature + length != end:
      return None
    length, list_start = _varint(data, feature + 1)
    if length < 0 or list_start + length != end:
      return None
    entries.append((data[key_start:value_tag], data[feature], list_start, end))
    pos = end
  return entries


def _one_value(data: bytes, start: int, end: int):
  """The payload of a list holding one length-delimited field 1 spanning it; None otherwise."""
  if start >= end or data[start] != 0x0A:
    return None
  length, payload = _varint(data, start + 1)
  return data[payload:end] if length >= 0 and payload + length == end else None


def _int64s(packed: bytes):
  """Packed int64 varints as protobuf reads them (two's complement); None if malformed."""
  values, pos = [], 0
  while pos < len(packed):
    value, pos = _varint(packed, pos)
    if value < 0:
      return None
    value &= (1 << 64) - 1
    values.append(value - (1 << 64) if value >= 1 << 63 else value)
  return tuple(values)


def plain_record(data: bytes, names: dict, id_key: bytes, labels_key: bytes):
  """A plain feature record's id, float payloads and labels; None for any other record.

  Args:
    data: a serialized record.
    names: modality name (UTF-8) -> its payload's size in bytes (4 per value).
    id_key: the id feature's name (UTF-8).
    labels_key: the labels feature's name (UTF-8).

  Returns:
    (id, {modality name: little-endian float32 bytes}, labels), or None when
    the record is not plain (see the module docstring) or its id is refused.
  """
  try:
    return _plain_record(data, names, id_key, labels_key)
  except IndexError:  # cut short
    return None


def _plain_record(data: bytes, names: dict, id_key: bytes, labels_key: bytes):
  entries = _entries(data)
  if entries is None:
    return None
  item_id, labels, vectors = None, (), {}
  for key, tag, start, end in entries:
    if key == id_key and tag == BYTES_LIST and item_id is None:
      raw = _one_value(data, start, end)
      if raw is None:
        return None
      item_id, reason = item_ids.decode_id(raw)
      if reason:
        return None
    elif key in names and tag == FLOAT_LIST and key not in vectors:
      payload = _one_value(data, start, end)
      if payload is None or len(payload) != names[key]:
        return None
      vectors[key] = payload
    elif key == labels_key and tag == INT64_LIST and labels == () and start == end:
      continue  # an empty int64 list
    elif key == labels_key and tag == INT64_LIST and labels == ():
      payload = _one_value(data, start, end)
      labels = None if payload is None else _int64s(payload)
      if labels is None:
        return None
    else:
      return None  # another feature, a key twice, or another kind of list
  if item_id is None or len(vectors) != len(names):
    return None
  return item_id, vectors, labels


def float_sizes(data: bytes) -> dict | None:
  """The number of floats of each feature of a plain Example (0 for other kinds); None otherwise.

  Plain here as in `_entries`, and more: keys distinct and UTF-8, each list
  empty or one packed field (floats a multiple of 4 bytes, int64s well-formed
  varints), each bytes list a run of length-delimited values. For such a
  record `tf_example.parse` succeeds and gives the same names and float
  counts; any other record (None) needs `tf_example.parse` itself.

  Args:
    data: a serialized record.

  Returns:
    {feature name: its float count, 0 for a bytes or int64 list}, or None.
  """
  try:
    entries = _entries(data)
    if entries is None:
      return None
    sizes = {}
    for key, tag, start, end in entries:
      name = key.decode("utf-8")
      if name in sizes or tag not in (BYTES_LIST, FLOAT_LIST, INT64_LIST):
        return None
      sizes[name] = 0
      if start == end:
        continue
      if tag == BYTES_LIST:
        if not _bytes_values(data, start, end):
          return None
        continue
      payload = _one_value(data, start, end)
      if payload is None or (_int64s(payload) is None if tag == INT64_LIST else len(payload) % 4):
        return None
      if tag == FLOAT_LIST:
        sizes[name] = len(payload) // 4
    return sizes
  except (IndexError, UnicodeDecodeError):
    return None


def _bytes_values(data: bytes, start: int, end: int) -> bool:
  """Whether data[start:end] is a run of length-delimited fields 1 (a BytesList's values)."""
  while start < end:
    if data[start] != 0x0A:
      return False
    length, start = _varint(data, start + 1)
    if length < 0:
      return False
    start += length
  return start == end
