"""CRC-32C and TFRecord framing of many records at once, without reading their bytes twice.

A CRC is linear: for the CRC-32C of the TFRecord format (initial and final
value 0xFFFFFFFF), `crc(x + y) = shift(crc(x), len(y)) ^ crc(y)`, where
`shift(c, n)` is what appending n zero bytes does to the register, a linear
map on 32 bits (zlib's `crc32_combine`). `combine` applies it to whole arrays
of CRCs with four 256-entry tables per distinct length, so the checksum of a
record made of pieces whose CRCs are known (an item's encoded features,
computed once per item) costs a few numpy operations per record, and the
record's bytes are never scanned. `frame_head` and `frame_tails` give the bytes
around each record in a TFRecord file (`tfrecord_frames.tfrecord_frame`'s layout).
"""

import functools

import google_crc32c
import numpy as np

_MASK_DELTA = 0xA282EAD8


@functools.lru_cache(maxsize=256)
def _shift_tables(n: int) -> np.ndarray:
  """(4, 256) uint32: table k maps byte v to shift(v << 8k, n)."""
  columns = np.array([~google_crc32c.extend(~(1 << b) & 0xFFFFFFFF, bytes(n)) & 0xFFFFFFFF
                      for b in range(32)], np.uint32)
  bits = (np.arange(256)[:, None] >> np.arange(8)) & 1  # (256, 8)
  tables = np.zeros((4, 256), np.uint32)
  for k in range(4):
    for b in range(8):
      tables[k] ^= np.where(bits[:, b] == 1, columns[8 * k + b], np.uint32(0))
  return tables


def distinct(values) -> tuple:
  """`np.unique(values, return_inverse=True)` of integers, by counting when their range is small.

  Args:
    values: integers.

  Returns:
    (the distinct values, increasing; each value's index among them).
  """
  values = np.asarray(values, np.int64).reshape(-1)
  if not len(values):
    return values, np.zeros(0, np.int64)
  low, high = int(values.min()), int(values.max())
  if high - low >= max(1 << 16, len(values)):
    found, inverse = np.unique(values, return_inverse=True)
    return found, inverse.reshape(-1)
  present = np.zeros(high - low + 1, bool)
  present[values - low] = True
  return np.flatnonzero(present) + low, (np.cumsum(present) - 1)[values - low]


def shift(crcs: np.ndarray, lengths) -> np.ndarray:
  """`shift(c, n)` of each CRC: the register after n more zero bytes (without conditioning).

  Args:
    crcs: uint32 CRCs.
    lengths: an int or an array of byte counts, one per CRC.

  Returns:
    uint32 array.
  """
  crcs = np.asarray(crcs, np.uint32)
  lengths = np.broadcast_to(np.asarray(lengths, np.int64), crcs.shape)
  out = np.empty_like(crcs)
  found, _ = distinct(lengths)
  for n in found.tolist():
    at = slice(None) if len(found) == 1 else lengths == n
    c, t = crcs[at], _shift_tables(n)
    out[at] = (t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^
               t[3][c >> 24])
  return out


def combine(first: np.ndarray, second: np.ndarray, second_lengths) -> np.ndarray:
  """CRC-32C of `x + y` from crc(x), crc(y) and len(y), element by element.

  Args:
    first: uint32 CRC-32C of the first parts.
    second: uint32 CRC-32C of the second parts.
    second_lengths: the byte lengths of the second parts (an int or an array).

  Returns:
    uint32 CRC-32C of the concatenations.
  """
  return shift(first, second_lengths) ^ np.asarray(second, np.uint32)


def crc32c_each(pieces) -> np.ndarray:
  """CRC-32C of each bytes value.

  Args:
    pieces: bytes values.

  Returns:
    uint32 array.
  """
  pieces = list(pieces)
  return np.fromiter(map(google_crc32c.value, pieces), np.uint32, len(pieces))


def masked(crcs: np.ndarray) -> np.ndarray:
  """The TFRecord mask of each CRC-32C (`tfrecord_frames.masked_crc32c`).

  Args:
    crcs: uint32 CRCs.

  Returns:
    uint32 masked CRCs.
  """
  crcs = np.atleast_1d(np.asarray(crcs, np.uint32))
  return ((crcs >> 15) | (crcs << 17)) + np.uint32(_MASK_DELTA)


def frame_head(length: int) -> bytes:
  """The 12 bytes before a record of `length` bytes in a TFRecord file (length, masked CRC).

  Args:
    length: the record's length.

  Returns:
    The little-endian length and its masked CRC-32C.
  """
  head = int(length).to_bytes(8, "little")
  return head + masked(google_crc32c.value(head)).astype("<u4").tobytes()


def frame_tails(data_crcs: np.ndarray) -> np.ndarray:
  """The 4 bytes after each record in a TFRecord file: its masked CRC-32C.

  Args:
    data_crcs: each record's CRC-32C (unmasked).

  Returns:
    A numpy object array of 4-byte bytes values: `frame_head(len(r)) + r + tail` is
    `tfrecord_frames.tfrecord_frame(r)`.
  """
  data = masked(np.asarray(data_crcs, np.uint32).reshape(-1)).astype("<u4").tobytes()
  return np.frombuffer(data, "V4").astype(object)
