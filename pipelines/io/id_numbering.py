"""Numbering item ids without a dict: sorted unique ids and each name's index.

`number_ids` indexes a table by the bits that vary among the ids, or sorts
packed or hashed ids; `number_packed` does the same for ids of up to 8 bytes
already packed into integers by `pack_ids` (`edges_local` numbers the edge
ends with them). An id
never holds a NUL, since ids with control characters are rejected as
`id_control_character` before they are numbered.
"""

import numpy as np

from pipelines.errors import InputError
from pipelines.io import csv_columns


def _mix(words: np.ndarray) -> np.ndarray:
  """A 64-bit hash of each row of 8-byte words (for grouping; collisions are checked)."""
  h = np.full(len(words), 0x9E3779B97F4A7C15, np.uint64)
  for j in range(words.shape[1]):
    h ^= words[:, j]
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
  return h


def _varying_bits_key(words: np.ndarray, budget: int):
  """An exact key in the rows' order from the bits that vary among them, or None.

  A bit that holds the same value in every row decides no comparison, so the
  varying bits of big-endian words, packed in order, compare as the rows do.
  Each byte keeps the span from its lowest to its highest varying bit (ids of
  `v` and six digits: 4 bits per digit, 24 in all).

  Args:
    words: (rows, k) uint64, the rows as big-endian 8-byte words.
    budget: the most bits the key may take.

  Returns:
    (uint64 keys, bits used), or None when the varying bits need more than
    `budget`.
  """
  key = np.zeros(len(words), np.uint64)
  part = np.empty_like(key)
  used = 0
  for j in range(words.shape[1]):
    column = np.ascontiguousarray(words[:, j])
    varying = int(np.bitwise_or.reduce(column ^ column[0]))
    for shift in range(56, -8, -8):
      byte = (varying >> shift) & 0xFF
      if not byte:
        continue
      low = (byte & -byte).bit_length() - 1
      bits = byte.bit_length() - low
      used += bits
      if used > budget:
        return None
      np.right_shift(column, np.uint64(shift + low), out=part)
      np.bitwise_and(part, np.uint64((1 << bits) - 1), out=part)
      np.left_shift(key, np.uint64(bits), out=key)
      np.bitwise_or(key, part, out=key)
  return key, used


def _number_by_table(key: np.ndarray, bits: int):
  """_number_rows without a sort: a table of all 2**bits exact keys marks those present."""
  present = np.zeros(1 << bits, bool)
  present[key] = True
  rank = np.cumsum(present, dtype=np.int64) - 1
  row = np.empty(1 << bits, np.int64)
  row[key] = np.arange(len(key))  # any row of a key: equal keys are equal ids
  return row[present], rank[key]


def _number_rows(words: np.ndarray, width: int):
  """(a row of each distinct id, in id order or hash order; index of each row; exact).

  Exact (id order) unless the ids are over 8 bytes and their varying bits do
  not fit one integer with the row number: then rows are grouped by a 64-bit
  hash and `exact` is False.
  """
  rows = len(words)
  index_bits = max(1, (rows - 1).bit_length())
  compact = _varying_bits_key(words, 64 - index_bits) if rows else None
  exact = compact is not None
  if exact and 1 << compact[1] <= max(1 << 20, 2 * rows):
    return (*_number_by_table(*compact), True)
  if exact:
    key = compact[0]
    key <<= np.uint64(index_bits)
    key |= np.arange(rows, dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << index_bits) - 1)).astype(np.int64)
    key >>= np.uint64(index_bits)
  else:
    key = words[:, 0] if width <= 8 else _mix(words)
    order = np.argsort(key)
    key = key[order]
    exact = width <= 8
  new = np.concatenate(([True], key[1:] != key[:-1])) if len(key) else np.zeros(0, bool)
  del key
  index = np.empty(rows, np.int64)
  index[order] = np.cumsum(new) - 1
  return order[new], index, exact


def pack_ids(chunks: list):
  """Ids of up to 8 bytes packed big-endian into uint64 (zero-padded), or None.

  Ids hold no NUL, so the packed integers compare (and are equal) exactly as
  the ids' bytes, hence as the ids (UTF-8 keeps code point order).

  Args:
    chunks: pyarrow binary arrays of ids.

  Returns:
    One uint64 per id, in order, or None when an id is longer than 8 bytes.
  """
  out = np.zeros((sum(len(c) for c in chunks), 8), np.uint8)
  row = 0
  for chunk in chunks:
    offsets, data = csv_columns.buffers(chunk)
    lengths, n = np.diff(offsets), len(chunk)
    longest = int(lengths.max()) if n else 0
    if longest > 8:
      return None
    if n and longest == int(lengths.min()):
      out[row:row + n, :longest] = data[offsets[0]:offsets[-1]].reshape(n, longest)
    elif n:
      last = max(0, int(offsets[-1]) - 1)
      for j in range(longest):
        out[row:row + n, j] = np.where(lengths > j, data[np.minimum(offsets[:-1] + j, last)], 0)
    row += n
  return out.view(">u8").reshape(-1).astype(np.uint64)


def number_packed(keys: np.ndarray):
  """(sorted unique ids as bytes, index of each id) of ids packed by `pack_ids`.

  Args:
    keys: uint64, one per id.

  Returns:
    (sorted unique ids, an `S8` array; index of each id among them, int64).
  """
  rows, index, _ = _number_rows(keys[:, None], 8)
  return keys[rows].astype(">u8").view("S8"), index


def number_ids(names: np.ndarray):
  """(sorted unique ids as bytes, index of each name among them), ids in UTF-8.

  The ids' varying bits (`_varying_bits_key`), when they are few (a table of
  2**bits entries at most twice the names), index a table of the keys present
  (no sort); when they fit in one integer with the row number, they are sorted
  with it in one pass (no argsort). Otherwise ids of up to 8 bytes are packed
  big-endian into one integer (exact, in string order) and argsorted; longer
  ids are grouped by a 64-bit hash, checked for collisions, then the distinct
  ids sorted.

  Args:
    names: a numpy bytes array of ids.

  Returns:
    (sorted unique ids, index of each name).
  """
  width = names.dtype.itemsize
  words = names.astype(f"S{-(-width // 8) * 8}").view(">u8").reshape(len(names), -1)
  rows, index, exact = _number_rows(words.astype(np.uint64), width)
  del words
  unique = names[rows]
  if not exact:
    if not np.array_equal(unique[index], names):
      raise InputError("too many edge ids for the in-memory reader (64-bit hash collision); "
                       "use --engine=beam")
    by_name = np.argsort(unique, kind="stable")
    rank = np.empty(len(unique), np.int64)
    rank[by_name] = np.arange(len(unique))
    unique, index = unique[by_name], rank[index]
  return unique, index
