"""Equal (lo, hi) pairs combined: `max`, or an exact (correctly rounded) `sum`.

Edge readers combine duplicate edges with `group_pairs` (`io/edges_local.py`),
and the in-memory clustering contracts the graph with it each round
(`clustering/affinity_local.py`). Sums are `math.fsum`'s, so they equal Beam's
`ExactSumFn` whatever the order of the values. The packed keys are sorted and
the values gathered on two threads (numpy releases the GIL).
"""

import concurrent.futures
import functools
import math

import numpy as np

_CHUNK = 1 << 20  # rows per step of in-place work (its temporaries are reused, not faulted)
THREADS = 2


def sort_in_halves(keys: np.ndarray, pool: concurrent.futures.Executor) -> None:
  """Sorts `keys` in place: partitioned at the middle (no copy), then each half sorted apart.

  Every key of the first half is at most every key of the second after
  `ndarray.partition`, so the two sorted halves are the sorted array; the
  halves are sorted on the pool's threads at once.

  Args:
    keys: a numeric array, sorted in place.
    pool: the threads that sort the halves.
  """
  half = len(keys) // 2
  if half < _CHUNK:
    keys.sort()
    return
  keys.partition(half)
  list(pool.map(np.ndarray.sort, (keys[:half], keys[half:])))


def exact_group_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
  """Correctly rounded sum of each group values[starts[i]:starts[i+1]] (math.fsum).

  Args:
    values: the values, grouped.
    starts: each group's first index, increasing.

  Returns:
    One sum per group.
  """
  counts = np.diff(starts, append=len(values))
  out = values[starts].copy()
  two = counts == 2
  out[two] += values[starts[two] + 1]  # one IEEE addition is correctly rounded
  many = np.flatnonzero(counts > 2)
  if len(many):
    lengths = counts[many]
    offsets = np.repeat(starts[many] - np.cumsum(lengths) + lengths, lengths)
    flat = values[offsets + np.arange(lengths.sum())].tolist()
    pos, sums = 0, []
    for n in lengths.tolist():
      sums.append(math.fsum(flat[pos:pos + n]))
      pos += n
    out[many] = sums
  return out


def _gather_values(packed: np.ndarray, index_bits: int, values: np.ndarray, out: np.ndarray,
                   start: int) -> None:
  """out[i] = values[row of packed[i]] for the chunk of `_CHUNK` keys from `start`."""
  chunk = packed[start:start + _CHUNK]
  rows = np.bitwise_and(chunk, np.uint64((1 << index_bits) - 1)).view(np.int64)
  np.take(values, rows, out=out[start:start + len(chunk)])


def group_pairs(lo: np.ndarray, hi: np.ndarray, values: np.ndarray, num_nodes: int,
                how: str):
  """Combines values of equal (lo, hi) pairs by `max` or exact `sum`.

  Args:
    lo: each pair's smaller node.
    hi: each pair's larger node.
    values: each pair's value.
    num_nodes: the number of nodes (bounds lo and hi).
    how: `max` or `sum`.

  Returns:
    (lo, hi, combined, occurrences), sorted by (lo, hi).
  """
  m = len(lo)
  if m == 0:
    return lo, hi, values, np.zeros(0, np.int64)
  index_bits = max(1, (m - 1).bit_length())
  if (num_nodes * num_nodes).bit_length() + index_bits <= 64:  # in place: few fresh arrays
    packed = lo.astype(np.uint64)
    packed *= np.uint64(num_nodes)
    np.add(packed, hi, out=packed, casting="unsafe")  # both below 2**63
    packed <<= np.uint64(index_bits)
    for start in range(0, m, _CHUNK):  # the row numbers, without a fresh array of m
      packed[start:start + _CHUNK] |= np.arange(start, min(m, start + _CHUNK), dtype=np.uint64)
    sorted_values = np.empty_like(values)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
      sort_in_halves(packed, pool)
      gather = functools.partial(_gather_values, packed, index_bits, values, sorted_values)
      list(pool.map(gather, range(0, m, _CHUNK)))
    values = sorted_values
    packed >>= np.uint64(index_bits)
    key = packed.view(np.int64)
  else:
    key = lo.astype(np.int64) * num_nodes + hi
    order = np.argsort(key, kind="stable")
    key = key[order]
    values = values[order]
    del order
  new = np.empty(m, bool)
  new[0] = True
  np.not_equal(key[1:], key[:-1], out=new[1:])
  starts = np.flatnonzero(new)
  del new
  if how == "max":
    combined = np.maximum.reduceat(values, starts)
  else:
    combined = exact_group_sums(values, starts)
  del values
  occurrences = np.empty(len(starts), np.int64)
  np.subtract(starts[1:], starts[:-1], out=occurrences[:-1])
  occurrences[-1] = m - starts[-1]
  groups = len(starts)
  for start in range(0, groups, _CHUNK):  # key[starts] into key's first rows (starts[i] >= i)
    part = starts[start:start + _CHUNK]
    key[start:start + len(part)] = key[part]
  del starts
  hi = key[:groups]
  lo = np.empty_like(hi)
  np.divmod(hi, num_nodes, out=(lo, hi))  # in place
  return lo, hi, combined, occurrences
