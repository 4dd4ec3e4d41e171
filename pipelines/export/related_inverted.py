"""The IVF-Flat search inverted by probed list (`--search=ivfflat`, both engines).

A row of `--search=ivfflat` is defined as the exact top K over the query's
probed lists: every item of the `nprobe` inverted lists whose centroids are
nearest the query (faiss's coarse quantizer, as `IndexIVFFlat.search` probes
them), the query itself excluded, ordered by the exact score
(`exact_scores`) descending, then by row (id) ascending.

How it is found, for a block of queries at once (`search`):

1. Probes: `quantizer.search(queries, nprobe)` (faiss, one thread, no BLAS:
   a query's probes do not depend on its block).
2. The (query, list) pairs are grouped by list; per list ONE float32 BLAS
   product of the queries that probe it against the list's members, in
   rounds by probe rank (`PROBE_ROUNDS`: each query's nearest list, its
   next 3, the rest), so that each query's K-th best is close early.
3. Per query a running threshold: the K-th best float32 score seen so far,
   less `band` (twice a proven bound on a float32 dot product's error for
   unit vectors of this dimension). Every score at or above it is kept in
   the query's candidate buffer; a full buffer, and after each round every
   buffer, is cut (its K-th best raises the threshold).
4. At the end each query's candidates within `band` of its final K-th best
   float32 score are re-scored exactly and the K best kept (ties by row).

Why the BLAS bits never decide a row: a float32 score is within band / 2
of the exact one (both are within the float32 dot product's error of the
real product), so any item of the exact top K scores at least the K-th
best float32 score less `band` and is never dropped; the order and the
scores written come from `exact_scores` alone. The rows therefore do not
depend on the block, the thread count or the BLAS library's shapes, and the
Beam engine, which searches its own query bundles with the same function,
writes the same bytes.

Memory per call: the block's candidate buffers (`queries x 2K` positions
and float32 scores, wider only while a query has more than 2K candidates
within `band` of each other) and one list's product.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import threadpoolctl


EXACT_PAIRS = 8192  # pairs per `exact_scores` call (its float64 operands stay in cache)


class InvertedLists(NamedTuple):
  """An IVF-Flat index's lists as arrays (`from_faiss`).

  Attributes:
    quantizer: faiss `IndexFlatIP` of the list centroids (probes).
    nprobe: lists probed per query.
    starts: int64 [nlist + 1]: list l holds positions starts[l]:starts[l + 1].
    rows: int64 [N]: the row (label: position in the sorted ids) at each position.
    units: float32 [N, d]: the unit vector at each position (the index's codes).
    position: int64 [N]: the position of each row (-1: not in the index).
  """
  quantizer: object
  nprobe: int
  starts: np.ndarray
  rows: np.ndarray
  units: np.ndarray
  position: np.ndarray


def from_faiss(index, nprobe: int) -> InvertedLists:
  """The lists of a filled faiss `IndexIVFFlat` (labels = rows), copied out of it.

  Args:
    index: the filled index (inner product, unit vectors).
    nprobe: lists probed per query (at most nlist are).

  Returns:
    The `InvertedLists`; the faiss index may be freed after.
  """
  import faiss  # pylint: disable=import-outside-toplevel
  ivf = faiss.extract_index_ivf(index)
  nlist, dim, invlists = ivf.nlist, ivf.d, ivf.invlists
  sizes = np.array([invlists.list_size(l) for l in range(nlist)], np.int64)
  starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
  rows = np.empty(int(starts[-1]), np.int64)
  units = np.empty((int(starts[-1]), dim), np.float32)
  for l in np.nonzero(sizes)[0].tolist():
    size, start = int(sizes[l]), int(starts[l])
    rows[start:start + size] = faiss.rev_swig_ptr(invlists.get_ids(l), size)
    codes = faiss.rev_swig_ptr(invlists.get_codes(l), size * invlists.code_size)
    units[start:start + size] = np.frombuffer(codes, np.float32).reshape(size, dim)
  position = np.full(int(rows.max()) + 1 if len(rows) else 0, -1, np.int64)
  position[rows] = np.arange(len(rows))
  quantizer = faiss.IndexFlatIP(dim)
  quantizer.add(ivf.quantizer.reconstruct_n(0, nlist))
  return InvertedLists(quantizer, min(nprobe, nlist), starts, rows, units, position)


def one_blas_thread():
  """Context: BLAS on one thread (process-wide), for the many small products of `search`.

  OpenBLAS's threads on these (about 1,000 x 600 x 64) products, between
  which numpy filters the scores, cost 6x the CPU of one thread (measured:
  2 x 32,768 queries at 1M items, 11 vs 70 CPU-s, with or without one
  product at a time). The rows do not depend on it.

  Returns:
    The `threadpoolctl.threadpool_limits` context.
  """
  return threadpoolctl.threadpool_limits(1, user_api="blas")


def band(dim: int) -> float:
  """Twice the error bound of a float32 dot product of two unit vectors of `dim` floats, doubled.

  A float32 dot product of any summation order (FMA or not) is within
  gamma_d = d u / (1 - d u) of the real one for unit vectors (u = 2^-24), and
  so is the float64 `exact_scores` (by far less); two scores of one pair
  thus differ by less than 2 gamma_d. The band is twice that, for the
  float32 unit rows' norms (1 within a few u) and a margin.

  Args:
    dim: the vectors' dimension.

  Returns:
    The band, a float.
  """
  gamma = dim * 2.0**-24 / (1 - dim * 2.0**-24)
  return 4 * gamma + 2.0**-20


def exact_scores(query_units: np.ndarray, candidate_units: np.ndarray) -> np.ndarray:
  """Each pair's inner product in float64, in an order fixed by the dimension alone (no BLAS).

  Products of float32 values are exact in float64; each pair's d products
  are summed by numpy's reduction along a contiguous row (its pairwise sum
  of d values, the same additions for every row), so a pair's score depends
  on its two vectors only, never on how many pairs are scored at once.

  Args:
    query_units: float32 [P, d].
    candidate_units: float32 [P, d], pair p is (query_units[p], candidate_units[p]).

  Returns:
    float64 [P].
  """
  products = np.multiply(query_units, candidate_units, dtype=np.float64)
  return np.add.reduce(np.ascontiguousarray(products), axis=1)


def _below(values: np.ndarray) -> np.ndarray:
  """float32 values <= the float64 `values` (for thresholds: never above the bound)."""
  rounded = values.astype(np.float32)
  return np.where(rounded > values, np.nextafter(rounded, np.float32(-np.inf)), rounded)


def _where(mask: np.ndarray):
  """np.nonzero of a C-contiguous 2-D mask, through the much faster 1-D flatnonzero."""
  return np.divmod(np.flatnonzero(mask), mask.shape[1])


def _slots(kept: np.ndarray) -> np.ndarray:
  """0, 1, ... within each run: the slot of each entry of rows holding kept[i] entries each."""
  return np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)


class _Candidates:
  """Per query of a block: a running threshold and the positions scoring at or above it.

  A query's buffer holds, in slots [0, count), every position seen so far
  whose float32 score is at or above its threshold; the threshold is a
  K-th best float32 score seen so far less the band (or -inf before K are
  seen), so it never exceeds the final K-th best less the band.
  """

  def __init__(self, queries: int, k: int, width: int, gap: float):
    self.k, self.gap = k, gap
    self.threshold = np.full(queries, -np.inf, np.float32)
    self.count = np.zeros(queries, np.int64)
    self.scores = np.full((queries, width), -np.inf, np.float32)
    self.positions = np.zeros((queries, width), np.int64)

  def _raise(self, queries, kth) -> None:
    """Thresholds of `queries` from a K-th best float32 score (any subset's: a lower bound)."""
    known = np.isfinite(kth)
    queries, kth = queries[known], kth[known]
    self.threshold[queries] = np.maximum(self.threshold[queries],
                                         _below(kth.astype(np.float64) - self.gap))

  def add(self, queries, scores, first_position: int, self_cols) -> None:
    """Keeps the scores at or above each query's threshold.

    Args:
      queries: int64 [q]: the block's queries of this product (distinct).
      scores: float32 [q, m]: their scores against positions first_position + j.
      first_position: the position of column 0.
      self_cols: int64 [q]: the column of each query itself (-1: none).
    """
    m = scores.shape[1]
    own = np.nonzero(self_cols >= 0)[0]
    scores[own, self_cols[own]] = -np.inf
    open_rows = np.nonzero(np.isneginf(self.threshold[queries]))[0]
    if m > self.k and len(open_rows):  # this product's own K-th best bounds theirs
      self._raise(queries[open_rows],
                  np.partition(scores[open_rows], m - self.k, axis=1)[:, m - self.k])
    keep = scores >= self.threshold[queries][:, None]
    keep[own, self_cols[own]] = False
    r, c = _where(keep)
    self._append(queries, r, c + first_position, scores[r, c])

  def _append(self, queries, r, positions, scores) -> None:
    added = np.bincount(r, minlength=len(queries))
    slot = self.count[queries][r] + _slots(added)
    full = self.count[queries] + added > self.scores.shape[1]
    if full.any():  # those queries' buffers and new entries, cut by their K-th best
      over = full[r]
      rows = queries[full]
      wide = int(slot[over].max()) + 1
      all_scores = np.full((len(rows), wide), -np.inf, np.float32)
      all_positions = np.zeros((len(rows), wide), np.int64)
      all_scores[:, :self.scores.shape[1]] = self.scores[rows]
      all_positions[:, :self.scores.shape[1]] = self.positions[rows]
      at = np.cumsum(full)[r[over]] - 1
      all_scores[at, slot[over]] = scores[over]
      all_positions[at, slot[over]] = positions[over]
      self._cut(rows, all_scores, all_positions)
      r, slot, positions, scores = r[~over], slot[~over], positions[~over], scores[~over]
    self.scores[queries[r], slot] = scores
    self.positions[queries[r], slot] = positions
    self.count[queries] += np.where(full, 0, added)

  def _cut(self, queries, scores, positions) -> None:
    """Raises the thresholds of `queries` by the K-th best of `scores` (theirs, -inf padded)
    and keeps in their buffers the entries at or above them."""
    wide = scores.shape[1]
    if wide > self.k:
      self._raise(queries, np.partition(scores, wide - self.k, axis=1)[:, wide - self.k])
    keep = scores >= self.threshold[queries][:, None]
    keep &= np.isfinite(scores)
    kept = keep.sum(axis=1)
    width = self.scores.shape[1]
    if kept.max(initial=0) > width:  # more than `width` scores within the band: widen all
      grown = max(2 * width, int(kept.max()))
      self.scores = np.concatenate(
          [self.scores, np.full((len(self.scores), grown - width), -np.inf, np.float32)], axis=1)
      self.positions = np.concatenate(
          [self.positions, np.zeros((len(self.positions), grown - width), np.int64)], axis=1)
    r, c = _where(keep)
    slot = _slots(kept)
    self.scores[queries] = -np.inf
    self.scores[queries[r], slot] = scores[r, c]
    self.positions[queries[r], slot] = positions[r, c]
    self.count[queries] = kept

  def tighten(self) -> None:
    """Every query's threshold from the K-th best in its buffer; the buffer cut to match."""
    everyone = np.arange(len(self.count))
    self._cut(everyone, self.scores.copy(), self.positions.copy())


def search(lists: InvertedLists, queries: np.ndarray, self_rows: np.ndarray, k: int):
  """The exact top k over each query's probed lists (module docstring), never itself.

  Args:
    lists: the index's `InvertedLists`.
    queries: float32 [B, d]: unit rows (`unit_rows`).
    self_rows: int64 [B]: each query's own row (-1: not in the index).
    k: neighbours per query.

  Returns:
    (rows int64 [B, k], scores float32 [B, k], counts int64 [B]): per query its
    counts[q] best rows, score descending then row ascending; the rest zero.
  """
  b = len(queries)
  if b == 0 or len(lists.rows) == 0:
    return np.zeros((b, k), np.int64), np.zeros((b, k), np.float32), np.zeros(b, np.int64)
  queries = np.ascontiguousarray(queries, np.float32)
  _, probes = lists.quantizer.search(queries, lists.nprobe)
  own = np.where(self_rows >= 0, lists.position[np.maximum(self_rows, 0)], -1)
  found = _Candidates(b, k, BUFFER_PER_K * k, band(queries.shape[1]))
  for first, last in PROBE_ROUNDS:  # nearest lists first: each round tightens the thresholds
    ranks = probes[:, first:last]
    query_of, rank_of = np.nonzero(ranks >= 0)
    list_of = ranks[query_of, rank_of]
    order = np.argsort(list_of, kind="stable")
    query_of, list_of = query_of[order], list_of[order]
    cuts = np.flatnonzero(np.diff(list_of)) + 1
    for qs, l in zip(np.split(query_of, cuts), list_of[np.concatenate([[0], cuts])].tolist()
                     if len(list_of) else []):
      start, stop = int(lists.starts[l]), int(lists.starts[l + 1])
      if stop > start:
        scores = queries[qs] @ lists.units[start:stop].T
        self_cols = np.where((own[qs] >= start) & (own[qs] < stop), own[qs] - start, -1)
        found.add(qs, scores, start, self_cols)
    found.tighten()
  return _best(found, queries, lists, k)


PROBE_ROUNDS = ((0, 1), (1, 4), (4, None))  # probe ranks [first, last) searched per round
BUFFER_PER_K = 2  # a query's buffer holds BUFFER_PER_K x k candidates before it is cut


def _best(found: _Candidates, queries, lists: InvertedLists, k: int):
  """`search`'s result from the tightened buffers: their entries re-scored exactly."""
  b, width = len(found.count), int(found.count.max())
  r, c = _where(np.arange(width) < found.count[:, None])
  positions = found.positions[r, c]
  exact = np.full((b, width), -np.inf)
  for s in range(0, len(r), EXACT_PAIRS):
    part = slice(s, s + EXACT_PAIRS)
    exact[r[part], c[part]] = exact_scores(queries[r[part]], lists.units[positions[part]])
  rows = np.full((b, width), np.iinfo(np.int64).max)
  rows[r, c] = lists.rows[positions]
  order = np.lexsort((rows, -exact), axis=1)[:, :k]
  counts = np.minimum(found.count, k)
  present = np.arange(order.shape[1]) < counts[:, None]
  rows_out = np.zeros((b, k), np.int64)
  scores_out = np.zeros((b, k), np.float32)
  rows_out[:, :order.shape[1]] = np.where(present, np.take_along_axis(rows, order, axis=1), 0)
  scores_out[:, :order.shape[1]] = np.where(
      present, np.take_along_axis(exact, order, axis=1), 0).astype(np.float32)
  return rows_out, scores_out, counts
