"""model.metrics_blocks: the per-query metrics of a block, bit for bit, without a sort per query."""

import math

import numpy as np
import pytest
import scipy.sparse

from model import metrics, metrics_blocks


def test_hand_computed_with_a_tie_and_an_exclusion():
  sims = np.array([[0.9, 0.5, 0.5, 0.1],
                   [0.9, 0.5, 0.5, 0.1],
                   [0.2, 0.3, 0.4, 0.5]])
  rel = np.array([[0, 1, 0, 1],  # ranked 0 1 0 1 (the tie keeps column order)
                  [0, 0, 1, 1],  # the tied relevant candidate (column 2) ranks third
                  [0, 0, 0, 0]], bool)  # no relevant candidate: skipped
  excl = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], bool)
  rows = metrics_blocks.block_query_metrics(sims, rel, excl, ndcg_k=2, map_k=2)
  assert len(rows) == 2
  # Row 0 without column 0: ranked 1 0 1 -> AP = (1 + 2/3) / 2, AP@2 = 1/2.
  ap2, ap, ndcg, count = rows[0]
  assert (ap2, ap, count) == (pytest.approx(0.5), pytest.approx((1 + 2 / 3) / 2), 2)
  assert ndcg == pytest.approx(1 / (1 + 1 / math.log2(3)))
  # Row 1: ranked 0 0 1 1 -> AP = (1/3 + 2/4) / 2, AP@2 = 0, NDCG@2 = 0.
  assert rows[1] == (0.0, pytest.approx((1 / 3 + 2 / 4) / 2), 0.0, 2)


def test_bit_for_bit_the_per_query_functions():
  rng = np.random.default_rng(4)
  for trial in range(20):
    b, n, k = int(rng.integers(1, 40)), int(rng.integers(1, 120)), int(rng.integers(1, 70))
    sims = rng.normal(size=(b, n))
    if trial % 2:
      sims = np.round(sims, 1)  # many ties
    rel = rng.random((b, n)) < 0.1
    excl = np.zeros((b, n), bool)
    excl[np.arange(b), rng.integers(0, n, b)] = rng.random(b) < 0.5
    want = []
    for r in range(b):
      keep = ~excl[r]
      if not rel[r][keep].any():
        continue
      ranked = metrics._ranked(rel[r][keep], sims[r][keep])
      want.append((metrics.average_precision(ranked, k=k), metrics.average_precision(ranked),
                   metrics.ndcg_at_k(ranked, k), int(ranked.sum())))
    assert metrics_blocks.block_query_metrics(sims, rel, excl, k, k) == want, trial
    assert metrics_blocks.block_query_metrics(sims, rel, None, k, k) == [
        (metrics.average_precision(x, k=k), metrics.average_precision(x),
         metrics.ndcg_at_k(x, k), int(x.sum()))
        for x in (metrics._ranked(rel[r], sims[r]) for r in range(b)) if x.any()], trial


def test_exact_sums_of_many_rows_equal_one_by_one():
  rng = np.random.default_rng(1)
  rows = [tuple(rng.random(3).tolist()) + (int(rng.integers(1, 9)),) for _ in range(500)]
  one = metrics.RetrievalTotals()
  for row in rows:
    one.add(row)
  many = metrics.RetrievalTotals().add_rows(rows[:200]).add_rows(rows[200:]).add_rows([])
  assert (many.count, many.sums, many.relevant) == (one.count, one.sums, one.relevant)


@pytest.mark.parametrize("scores_per_step", [1, 50, 1 << 24])
def test_wide_rows_in_slabs_float32_and_infinities_bit_for_bit(monkeypatch, scores_per_step):
  monkeypatch.setattr(metrics_blocks, "SCORES_PER_STEP", scores_per_step)
  rng = np.random.default_rng(7)
  for trial in range(12):
    b, n, k = int(rng.integers(1, 9)), int(rng.integers(130, 700)), int(rng.integers(1, 70))
    sims = np.round(rng.normal(size=(b, n)), 1).astype(np.float32 if trial % 2 else np.float64)
    sims[rng.random((b, n)) < 0.02] = np.inf
    sims[rng.random((b, n)) < 0.02] = -np.inf
    sims[rng.random((b, n)) < 0.05] = -0.0
    rel = rng.random((b, n)) < 0.05
    excl = rng.random((b, n)) < 0.03  # several removed candidates per row
    want = []
    for r in range(b):
      keep = ~excl[r]
      if rel[r][keep].any():
        ranked = metrics._ranked(rel[r][keep], sims[r][keep].astype(np.float64))
        want.append((metrics.average_precision(ranked, k=k), metrics.average_precision(ranked),
                     metrics.ndcg_at_k(ranked, k), int(ranked.sum())))
    assert metrics_blocks.block_query_metrics(sims, rel, excl, k, k) == want, trial


def test_top_lists_give_the_whole_lists_values_and_count_misses():
  rng = np.random.default_rng(11)
  for trial in range(20):
    b, n, k = int(rng.integers(1, 30)), int(rng.integers(2, 150)), int(rng.integers(1, 70))
    sims = rng.normal(size=(b, n))
    rel = rng.random((b, n)) < 0.1
    rel[np.arange(b), rng.integers(0, n, b)] = True  # every query has a relevant item
    order = np.argsort(-sims, axis=1, kind="stable")
    relevant = [np.flatnonzero(rel[r]).astype(np.int64) for r in range(b)]
    whole = metrics_blocks.block_query_metrics(sims, rel, None, k, k)
    width = min(k + int(rng.integers(0, 3)), n)  # the top k or a little more
    ranked = np.full((b, width + 2), -1, np.int64)  # -1: no candidate
    ranked[:, :width] = order[:, :width]
    top = metrics_blocks.top_list_metrics(ranked, relevant, n, k, k)
    assert [(a, c, r) for a, _, c, r in top] == [(a, c, r) for a, _, c, r in whole], trial
    assert all(row[1] is None for row in top)


def test_top_lists_count_a_missed_relevant_item_as_a_miss():
  # Relevant: columns 1, 2 and 3; the list found 2 (rank 1) and 1 (rank 3), not 3.
  ranked = np.array([[0, 2, 4, 1]])
  (ap, full, ndcg, count), = metrics_blocks.top_list_metrics(
      ranked, [np.array([1, 2, 3])], 10, ndcg_k=4, map_k=4)
  assert (full, count) == (None, 3)
  assert ap == pytest.approx((1 / 2 + 2 / 4) / 3)
  ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
  assert ndcg == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)


def test_sparse_relevance_and_removals_give_the_dense_values():
  rng = np.random.default_rng(12)
  for trial in range(10):
    b, n = int(rng.integers(1, 30)), int(rng.integers(2, 300))
    sims = np.round(rng.normal(size=(b, n)), 1)  # ties
    rel = rng.random((b, n)) < 0.08
    excl = rng.random((b, n)) < 0.02
    dense = metrics_blocks.block_query_metrics(sims, rel, excl, 10, 20)
    assert metrics_blocks.block_query_metrics(
        sims, scipy.sparse.csr_matrix(rel), scipy.sparse.csr_matrix(excl), 10, 20) == dense
    assert metrics_blocks.block_query_metrics(sims, scipy.sparse.csr_matrix(rel), None) == \
        metrics_blocks.block_query_metrics(sims, rel, None), trial
