"""Per-query retrieval metrics of a scored block, vectorised over its queries.

`block_query_metrics` gives, for every query of a block, the values that
`model/metrics.py`'s `average_precision` and `ndcg_at_k` give for it alone,
bit for bit. A relevant candidate's rank in its query's stable descending
order is counted, not sorted for: the candidates scored above it, plus those
scored equal and placed before it (only when its score occurs twice), less
the removed candidates (the query itself) among them. That is a few passes
over the row per relevant item, where a sort is about log2(N) passes, and the
row is never copied without its removed candidates. The queries are then
grouped by the length of their candidate list, and each group runs the same
numpy operations that the per-query functions run on one ranked relevance
row (a cumulative sum, an elementwise product, a row sum: a reduction along
a row adds in the same order as on that row alone, whatever the number of
rows), so the values, and the exact sums of `RetrievalTotals`, are the same.
`exact_sum` adds a block's values exactly in one pass over integers.
"""

from __future__ import annotations

import fractions

import numpy as np


SCORES_PER_STEP = 1 << 24  # ranked-list terms held at once (rows x list length)


def _nonzero(mask):
  """(rows, cols) of a 2-D bool array's True entries, in row-major order.

  `np.flatnonzero` of the flat array is an order of magnitude faster than the
  2-D `np.nonzero` on wide, sparse rows.
  """
  return np.divmod(np.flatnonzero(mask), max(1, mask.shape[1]))


def _entries(matrix, shape):
  """(rows, cols) of a [B, N] bool matrix's True entries (numpy or scipy.sparse), row-major.

  Args:
    matrix: the matrix, or None (no entry).
    shape: its shape.

  Returns:
    Two int64 arrays.
  """
  if matrix is None:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  if hasattr(matrix, "tocsr"):
    csr = matrix.tocsr(copy=True)
    csr.eliminate_zeros()
    csr.sum_duplicates()  # sorted column indices, one entry per place
    rows = np.repeat(np.arange(shape[0], dtype=np.int64), np.diff(csr.indptr))
    return rows, csr.indices.astype(np.int64)
  rows, cols = _nonzero(np.asarray(matrix, bool))
  return rows.astype(np.int64), cols.astype(np.int64)


def _relevant_ranks(sims, rel_entries, removed_entries):
  """0-based rank of every relevant kept candidate in its row's stable descending order.

  The rank of candidate j among the kept candidates (those not removed) is
  the number of kept candidates scored higher plus the number scored equal
  and placed before it: its place in `np.argsort(-kept_scores, kind="stable")`
  (a NaN compares unequal to every score, so it is never counted).

  Args:
    sims: [B, N] scores.
    rel_entries: (rows, cols) of the relevant kept candidates, row-major.
    removed_entries: (rows, cols) of the removed candidates, row-major.

  Returns:
    (rows, ranks) of the relevant kept candidates, ordered by row then rank.
  """
  rows, cols = rel_entries
  own = sims[rows, cols]
  removed_rows, removed_cols = removed_entries
  removed_starts = np.searchsorted(removed_rows, np.arange(sims.shape[0] + 1))
  ranks = np.empty(len(rows), np.int64)
  for i, (r, c, o) in enumerate(zip(rows.tolist(), cols.tolist(), own.tolist())):
    row = sims[r]
    removed = removed_cols[removed_starts[r]:removed_starts[r + 1]]
    gone = row[removed]
    above = np.count_nonzero(row > o) - np.count_nonzero(gone > o)
    if np.count_nonzero(row == o) - np.count_nonzero(gone == o) > 1:
      above += np.count_nonzero(row[:c] == o) - np.count_nonzero(gone[removed < c] == o)
    ranks[i] = above
  order = np.lexsort((ranks, rows))
  return rows[order], ranks[order]


def _row_sums(b: int, cut: int, rows, ranks, values):
  """Row sums of the [b, cut] matrix that holds `values` at (rows, ranks), zeros elsewhere.

  Built and summed a slab of rows at a time (about SCORES_PER_STEP terms).
  """
  out = np.empty(b)
  step = max(1, SCORES_PER_STEP // max(1, cut))
  bounds = np.searchsorted(rows, np.arange(0, b + step, step))
  for k, start in enumerate(range(0, b, step)):
    stop = min(b, start + step)
    lo, hi = bounds[k], bounds[k + 1]
    terms = np.zeros((stop - start, cut))
    terms[rows[lo:hi] - start, ranks[lo:hi]] = values[lo:hi]
    out[start:stop] = np.sum(terms, axis=1)
  return out


def _group_metrics(b: int, n: int, rows, ranks, ndcg_k: int, map_k: int, num_relevant=None):
  """(AP@map_k, whole-list AP, NDCG@ndcg_k, R) arrays of b rows of list length n.

  The ranked relevance rows that the per-query functions build (zeros but
  at the relevant candidates' ranks) are built from the ranks, and the same
  cumulative sums, quotients and row sums run on them.

  Args:
    b: the number of rows (queries).
    n: their candidate lists' length.
    rows: row (0..b-1) of each relevant candidate found, ordered by row then rank.
    ranks: its 0-based rank.
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.
    num_relevant: R per row when some relevant candidates were not found
      (a top-k list): they count as misses, and the whole-list AP is None.
      None: every relevant candidate has a rank (R = those found).

  Returns:
    The four arrays, one value per row (the second None with `num_relevant`).
  """
  found = np.bincount(rows, minlength=b).astype(np.int64)
  whole_list = num_relevant is None
  num_relevant = (found if whole_list else np.asarray(num_relevant, np.int64)).astype(np.float64)
  seen = np.arange(len(rows)) - np.repeat(np.cumsum(found) - found, found)
  precision_at_hit = (seen + 1).astype(np.float64) / (ranks + 1).astype(np.float64)

  def ap(cut):  # sum over the ranked list cut to `cut` of P(i) * rel_i, / R
    hit = ranks < cut
    return _row_sums(b, cut, rows[hit], ranks[hit], precision_at_hit[hit]) / num_relevant

  m = min(ndcg_k, n)
  gains = 1.0 / np.log2(np.arange(2, m + 2))  # (2^1 - 1) / log2(i + 1)
  hit = ranks < m
  dcg = _row_sums(b, m, rows[hit], ranks[hit], gains[ranks[hit]])
  ideal = {r: float(np.sum((2.0**np.ones(min(ndcg_k, r)) - 1.0) /
                           np.log2(np.arange(2, min(ndcg_k, r) + 2))))
           for r in np.unique(num_relevant).astype(np.int64).tolist()}
  ndcg = dcg / np.array([ideal[r] for r in num_relevant.astype(np.int64).tolist()])
  return (ap(min(map_k, n)), ap(n) if whole_list else None, ndcg,
          num_relevant.astype(np.int64))


def top_list_metrics(ranked, relevant_sorted, n: int, ndcg_k: int = 60, map_k: int = 60):
  """Per query: (AP@map_k, None, NDCG@ndcg_k, R) from its top candidates only.

  The values `block_query_metrics` gives for the query's whole list whenever
  the top `max(ndcg_k, map_k)` of `ranked` are its whole list's, bit for bit
  (the same arithmetic on the same ranks); a relevant candidate missing from
  `ranked` is a miss (R counts it). The whole-list AP needs every rank: None.

  Args:
    ranked: [B, K] int64 candidate columns in rank order, -1 for none.
    relevant_sorted: per query, its relevant columns (sorted int64 array, at
      least one).
    n: the length of each query's whole candidate list (at least the
      candidates in `ranked`; the sums run over min(k, n) ranks, as there).
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.

  Returns:
    A list of one tuple per query, in row order.
  """
  b = ranked.shape[0]
  counts = np.array([len(r) for r in relevant_sorted], np.int64)
  if b == 0:
    return []
  keys = np.concatenate(relevant_sorted) + np.repeat(np.arange(b, dtype=np.int64), counts) * (
      n + 2)
  ranked_keys = np.where(ranked >= 0, ranked + np.arange(b, dtype=np.int64)[:, None] * (n + 2),
                         -1)
  hit = np.isin(ranked_keys, keys)
  rows, ranks = _nonzero(hit)
  values = _group_metrics(b, n, rows, ranks, ndcg_k, map_k, counts)
  return [(ap_k, None, ndcg, count) for ap_k, ndcg, count in
          zip(values[0].tolist(), values[2].tolist(), values[3].tolist())]


def block_query_metrics(sims, rel_block, excl_block=None, ndcg_k: int = 60, map_k: int = 60):
  """Per query of a scored block: (AP@map_k, whole-list AP, NDCG@ndcg_k, relevant count).

  Args:
    sims: [B, N] scores of a block of queries against the database.
    rel_block: [B, N] bool relevance (numpy or scipy.sparse).
    excl_block: optional [B, N] bool (numpy or scipy.sparse), candidates
      removed from each list.
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.

  Returns:
    A list of one tuple per query that has a relevant candidate left (the
    others are skipped), in row order.
  """
  sims = np.asarray(sims)
  b, n = sims.shape
  rel_rows, rel_cols = _entries(rel_block, (b, n))
  removed = _entries(excl_block, (b, n))
  if len(removed[0]):
    kept = ~np.isin(rel_rows * n + rel_cols, removed[0] * n + removed[1])
    rel_rows, rel_cols = rel_rows[kept], rel_cols[kept]
  lengths = n - np.bincount(removed[0], minlength=b)
  rows, ranks = _relevant_ranks(sims, (rel_rows, rel_cols), removed)
  out = [None] * sims.shape[0]
  for length in np.unique(lengths[rows]).tolist():
    members = np.flatnonzero(np.isin(np.arange(sims.shape[0]), rows) & (lengths == length))
    pick = lengths[rows] == length
    local = np.searchsorted(members, rows[pick])
    values = _group_metrics(len(members), length, local, ranks[pick], ndcg_k, map_k)
    for r, ap_k, ap_full, ndcg, count in zip(members.tolist(), *(v.tolist() for v in values)):
      out[r] = (ap_k, ap_full, ndcg, count)
  return [row for row in out if row is not None]


def exact_sum(values) -> fractions.Fraction:
  """The exact sum of floats (each a dyadic rational), added as integers.

  Args:
    values: finite floats.

  Returns:
    Their sum as a Fraction (0 for none).
  """
  ratios = [v.as_integer_ratio() for v in values]
  if not ratios:
    return fractions.Fraction(0)
  shift = max(d.bit_length() for _, d in ratios) - 1
  return fractions.Fraction(sum(n << (shift - d.bit_length() + 1) for n, d in ratios),
                            1 << shift)
