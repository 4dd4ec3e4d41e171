"""Numbering item ids without a dict: sorted unique ids and each name's index.

`number_ids` indexes a table by the bits that vary among the ids, or sorts
packed or hashed ids; `number_short_ids` numbers ids of up to 8 bytes from
pyarrow chunks without making a fixed-width copy of them; `number_edge_ends`
numbers `edges_local`'s edge ends with these. An id
never holds a NUL, since ids with control characters are rejected as
`id_control_character` before they are numbered.
"""

import concurrent.futures

import numpy as np

from pipelines.errors import InputError
from pipelines.io import csv_columns

_STEP = 1 << 20  # keys per step of the table's scatter and gather (their intp copies reused)


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


def _short_id_matrices(chunks: list):
  """Each non-empty chunk as a (rows, width) uint8 matrix, zero-padded; None past 8 bytes."""
  out = []
  for chunk in chunks:
    n = len(chunk)
    if not n:
      continue
    offsets, data = csv_columns.buffers(chunk)
    lengths = np.diff(offsets)
    longest = int(lengths.max())
    if longest > 8:
      return None
    if longest == int(lengths.min()):  # fixed width: the data buffer itself, no copy
      out.append(data[offsets[0]:offsets[-1]].reshape(n, longest))
      continue
    matrix = np.zeros((n, longest), np.uint8)
    last = max(0, int(offsets[-1]) - 1)
    for j in range(longest):
      matrix[:, j] = np.where(lengths > j, data[np.minimum(offsets[:-1] + j, last)], 0)
    out.append(matrix)
  return out


def _spans(matrices: list, width: int):
  """(reference row, [(column, lowest varying bit, bits)]) of the varying bits per byte."""
  ref = np.zeros(width, np.uint8)
  ref[:matrices[0].shape[1]] = matrices[0][0]
  varying = np.zeros(width, np.uint8)
  for m in matrices:
    for j in range(width):
      column = m[:, j] if j < m.shape[1] else np.zeros(1, np.uint8)
      varying[j] |= np.bitwise_or.reduce(column ^ ref[j])
  spans = []
  for j, byte in enumerate(varying.tolist()):
    if byte:
      low = (byte & -byte).bit_length() - 1
      spans.append((j, low, byte.bit_length() - low))
  return ref, spans


def _compact_keys(m: np.ndarray, spans: list, key: np.ndarray) -> None:
  """Writes the varying bits of each row of `m` into `key` (zeroed), in order."""
  for j, low, bits in spans:
    key <<= key.dtype.type(bits)
    if j < m.shape[1]:
      key |= (m[:, j] >> np.uint8(low)) & np.uint8((1 << bits) - 1)


def number_short_ids(chunks: list, threads: int = 2):
  """(sorted unique ids as bytes, index of each id) of ids of up to 8 bytes, or None.

  The bits that vary among the ids, packed in order, compare as the ids do
  (ids hold no NUL, so zero padding sorts a prefix first). When a table of
  2**bits entries is at most twice the ids, the table marks the keys present
  (no sort); otherwise the keys are sorted with the row number, or argsorted.
  The unique ids are rebuilt from their keys and the constant bits. Chunks are
  keyed and the table scattered and gathered on `threads` threads (numpy
  releases the GIL).

  Args:
    chunks: pyarrow binary arrays of ids (no NUL).
    threads: worker threads.

  Returns:
    (sorted unique ids, an `S<width>` array; each id's index, an integer
    array), or None when an id is longer than 8 bytes.
  """
  matrices = _short_id_matrices(chunks)
  if not matrices:
    return (np.zeros(0, "S1"), np.zeros(0, np.int64)) if matrices is not None else None
  width = max(m.shape[1] for m in matrices)
  ref, spans = _spans(matrices, width)
  bits = sum(s[2] for s in spans)
  rows = sum(len(m) for m in matrices)
  dtype = np.uint32 if bits <= 32 else np.uint64
  key = np.zeros(rows, dtype)
  starts = np.cumsum([0] + [len(m) for m in matrices])
  with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    list(pool.map(lambda i: _compact_keys(matrices[i], spans, key[starts[i]:starts[i + 1]]),
                  range(len(matrices))))
    parts = [(a, min(rows, a + _STEP)) for a in range(0, rows, _STEP)]  # small index copies
    if 1 << bits <= max(1 << 20, 2 * rows):
      present = np.zeros(1 << bits, bool)
      list(pool.map(lambda r: present.__setitem__(key[r[0]:r[1]], True), parts))
      unique = np.flatnonzero(present).astype(dtype)
      del present
      rank = np.zeros(1 << bits, np.int32 if rows < 1 << 31 else np.int64)
      rank[unique] = np.arange(len(unique))
      # each key is replaced by its rank, in place where they have one size (no fresh array)
      index = key.view(rank.dtype) if key.itemsize == rank.itemsize else np.empty(rows, rank.dtype)
      list(pool.map(lambda r: np.take(rank, key[r[0]:r[1]].astype(np.intp),
                                      out=index[r[0]:r[1]]), parts))
    else:
      rows_, index, _ = _number_rows(key.astype(np.uint64)[:, None], 8)
      unique = key[rows_]
  out = np.zeros((len(unique), width), np.uint8)
  unique = unique.astype(np.uint64)
  for j, low, n in reversed(spans):
    part = (unique & np.uint64((1 << n) - 1)).astype(np.uint8)
    unique >>= np.uint64(n)
    out[:, j] = (part << np.uint8(low)) | (ref[j] & np.uint8(~(((1 << n) - 1) << low) & 0xFF))
  constant = [j for j in range(width) if j not in {s[0] for s in spans}]
  out[:, constant] = ref[constant]
  return out.view(f"S{width}").reshape(-1), index


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


def number_edge_ends(src: list, dst: list):
  """Numbers the ends of edges given as binary chunks, by `number_short_ids` or `number_ids`.

  Args:
    src: pyarrow binary arrays of the edges' first ids (no NUL).
    dst: pyarrow binary arrays of their second ids, as many in all.

  Returns:
    (sorted unique ids as bytes, an `S<width>` array; the index of each src
    id, of each dst id).
  """
  m = sum(len(x) for x in src)
  chunks = src + dst
  numbered = number_short_ids(chunks)
  if numbered is not None:
    unique, index = numbered
  else:
    names = [csv_columns.fixed_width(c) for c in chunks if len(c)]
    unique, index = number_ids(np.concatenate(names) if names else np.zeros(0, "S1"))
  return unique, index[:m], index[m:]
