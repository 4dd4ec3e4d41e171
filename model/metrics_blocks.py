"""Per-query retrieval metrics of a scored block, vectorised over its queries.

`block_query_metrics` gives, for every query of a block, the values that
`model/metrics.py`'s `average_precision` and `ndcg_at_k` give for it alone,
bit for bit: the queries of a block are grouped by the length of their
candidate list (the query itself removed or not), and each group runs the
same numpy operations on rows of that length that the per-query functions
run on one row (a stable argsort, a cumulative sum, an elementwise product,
a row sum: a reduction along a row adds in the same order as on that row
alone), so the values, and the exact sums of `RetrievalTotals`, are the same.
`exact_sum` adds a block's values exactly in one pass over integers.
"""

from __future__ import annotations

import fractions

import numpy as np


PAIRS_PER_STEP = 1024  # (query, relevant item) pairs ranked per comparison matrix


def _equal_before(sims, rows, cols):
  """How many candidates of each (row, col) pair's row score equal and sit before col."""
  counts = np.empty(len(rows), np.int64)
  positions = np.arange(sims.shape[1])
  for s in range(0, len(rows), PAIRS_PER_STEP):
    r, c = rows[s:s + PAIRS_PER_STEP], cols[s:s + PAIRS_PER_STEP]
    scores, own = sims[r], sims[r, c][:, None]
    counts[s:s + len(r)] = ((scores == own) & (positions < c[:, None])).sum(axis=1)
  return counts


def _relevant_ranks(sims, rel):
  """0-based rank of every relevant candidate in its row's stable descending order.

  The rank of candidate j is the number of candidates scored higher plus the
  number scored equal and placed before it: its place in
  `np.argsort(-scores, kind="stable")`. Each row is sorted once and the
  higher-scored count read off by binary search; the equal-and-before count
  is counted exactly, but only for the pairs whose score occurs more than
  once in the row. A block with a non-finite score counts every pair directly
  (a NaN sorts last but compares unequal).

  Returns:
    (rows, ranks) of the relevant candidates, ordered by row then rank.
  """
  rows, cols = np.nonzero(rel)
  n = sims.shape[1]
  if not np.isfinite(sims).all():
    ranks = np.empty(len(rows), np.int64)
    for s in range(0, len(rows), PAIRS_PER_STEP):
      r, c = rows[s:s + PAIRS_PER_STEP], cols[s:s + PAIRS_PER_STEP]
      ranks[s:s + len(r)] = (sims[r] > sims[r, c][:, None]).sum(axis=1)
    ranks += _equal_before(sims, rows, cols)
  else:
    own = sims[rows, cols]
    ascending = np.sort(sims, axis=1)
    ranks = np.empty(len(rows), np.int64)
    tied = np.zeros(len(rows), bool)
    starts = np.searchsorted(rows, np.arange(sims.shape[0] + 1))
    for r in np.unique(rows):
      a, b = starts[r], starts[r + 1]
      above = np.searchsorted(ascending[r], own[a:b], side="right")
      ranks[a:b] = n - above
      tied[a:b] = above - np.searchsorted(ascending[r], own[a:b], side="left") > 1
    if tied.any():
      ranks[tied] += _equal_before(sims, rows[tied], cols[tied])
  order = np.lexsort((ranks, rows))
  return rows[order], ranks[order]


def _group_metrics(sims, rel, ndcg_k: int, map_k: int):
  """(AP@map_k, whole-list AP, NDCG@ndcg_k, R) arrays of rows of equal length n.

  The ranked relevance rows that the per-query functions build (zeros but
  at the relevant candidates' ranks) are built from the ranks, and the same
  cumulative sums, quotients and row sums run on them.
  """
  b, n = sims.shape
  rows, ranks = _relevant_ranks(np.asarray(sims, np.float64), rel)
  num_relevant = np.bincount(rows, minlength=b).astype(np.float64)
  seen = np.arange(len(rows)) - np.repeat(np.cumsum(num_relevant).astype(np.int64)
                                         - num_relevant.astype(np.int64),
                                         num_relevant.astype(np.int64))
  precision_at_hit = (seen + 1).astype(np.float64) / (ranks + 1).astype(np.float64)

  def ap(cut):  # sum over the ranked list cut to `cut` of P(i) * rel_i, / R
    terms = np.zeros((b, cut))
    hit = ranks < cut
    terms[rows[hit], ranks[hit]] = precision_at_hit[hit]
    return np.sum(terms, axis=1) / num_relevant

  m = min(ndcg_k, n)
  gains = 1.0 / np.log2(np.arange(2, m + 2))  # (2^1 - 1) / log2(i + 1)
  terms = np.zeros((b, m))
  hit = ranks < m
  terms[rows[hit], ranks[hit]] = gains[ranks[hit]]
  dcg = np.sum(terms, axis=1)
  ideal = {r: float(np.sum((2.0**np.ones(min(ndcg_k, r)) - 1.0) /
                           np.log2(np.arange(2, min(ndcg_k, r) + 2))))
           for r in np.unique(num_relevant).astype(np.int64).tolist()}
  ndcg = dcg / np.array([ideal[r] for r in num_relevant.astype(np.int64).tolist()])
  return ap(min(map_k, n)), ap(n), ndcg, num_relevant.astype(np.int64)


def block_query_metrics(sims, rel_block, excl_block=None, ndcg_k: int = 60, map_k: int = 60):
  """Per query of a scored block: (AP@map_k, whole-list AP, NDCG@ndcg_k, relevant count).

  Args:
    sims: [B, N] scores of a block of queries against the database.
    rel_block: [B, N] bool relevance.
    excl_block: optional [B, N] bool, candidates removed from each list.
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.

  Returns:
    A list of one tuple per query that has a relevant candidate left (the
    others are skipped), in row order.
  """
  sims = np.asarray(sims)
  rel_block = np.asarray(rel_block, bool)
  keep = (np.ones(sims.shape, bool) if excl_block is None
          else ~np.asarray(excl_block, bool))
  lengths = keep.sum(axis=1)
  has_relevant = (rel_block & keep).any(axis=1)
  rows = [None] * sims.shape[0]
  for length in np.unique(lengths[has_relevant]).tolist():
    members = np.nonzero(has_relevant & (lengths == length))[0]
    mask = keep[members]
    values = _group_metrics(sims[members][mask].reshape(len(members), length),
                            rel_block[members][mask].reshape(len(members), length),
                            ndcg_k, map_k)
    for r, ap_k, ap_full, ndcg, count in zip(members.tolist(), *(v.tolist() for v in values)):
      rows[r] = (ap_k, ap_full, ndcg, count)
  return [row for row in rows if row is not None]


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
