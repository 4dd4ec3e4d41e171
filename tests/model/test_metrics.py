"""model.metrics against hand-computed cases and scikit-learn."""

import math

import numpy as np
import pytest
import scipy.sparse
from sklearn.metrics import average_precision_score, ndcg_score, top_k_accuracy_score

from model import metrics


def test_ap_and_ndcg_hand_computed():
  rel = [1, 0, 1, 0]  # already ranked
  assert metrics.average_precision(rel) == pytest.approx((1 + 2 / 3) / 2)
  assert metrics.average_precision(rel, k=2) == pytest.approx(0.5)  # second relevant missed
  dcg = 1 + 1 / math.log2(4)
  idcg = 1 + 1 / math.log2(3)
  assert metrics.dcg_at_k(rel, 60) == pytest.approx(dcg)
  assert metrics.ndcg_at_k(rel, 60) == pytest.approx(dcg / idcg)
  # k cuts both lists: @1 the first item is relevant -> 1.
  assert metrics.ndcg_at_k(rel, 1) == pytest.approx(1.0)
  # Scores re-rank: relevant item scored lowest.
  assert metrics.average_precision([0, 0, 1], scores=[0.9, 0.5, 0.1]) == pytest.approx(1 / 3)
  assert metrics.ndcg_at_k([0, 0, 1], 2, scores=[0.9, 0.5, 0.1]) == 0.0
  assert math.isnan(metrics.average_precision([0, 0]))
  assert math.isnan(metrics.ndcg_at_k([0, 0], 5))
  with pytest.raises(ValueError):
    metrics.average_precision([0, 2])


def test_ties_keep_the_given_order():
  assert metrics.average_precision([0, 1], scores=[0.5, 0.5]) == pytest.approx(0.5)
  assert metrics.average_precision([1, 0], scores=[0.5, 0.5]) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_ap_and_ndcg_match_sklearn(seed):
  rng = np.random.default_rng(seed)
  n = int(rng.integers(5, 200))
  rel = (rng.random(n) < 0.2).astype(int)
  rel[int(rng.integers(n))] = 1
  scores = rng.normal(size=n)  # continuous: no ties, so the definitions agree
  assert metrics.average_precision(rel, scores) == pytest.approx(
      average_precision_score(rel, scores))
  for k in (1, 5, 60):
    assert metrics.ndcg_at_k(rel, k, scores) == pytest.approx(
        ndcg_score([rel], [scores], k=k))


def test_retrieval_metrics_excludes_the_query_and_ranks_by_cosine():
  db = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
  q = np.array([[2.0, 0.1]])  # cosine order: 0, 2, 1
  relevance = np.array([[True, True, False]])
  out = metrics.retrieval_metrics(q, db, relevance, ndcg_k=60)
  # ranked relevance 1, 0, 1
  assert out["map@60"] == pytest.approx((1 + 2 / 3) / 2)
  assert out["ndcg@60"] == pytest.approx((1 + 0.5) / (1 + 1 / math.log2(3)))
  excl = np.array([[True, False, False]])  # query is database item 0
  out = metrics.retrieval_metrics(q, db, relevance, exclude=excl)
  assert out["map@60"] == pytest.approx(0.5)  # ranked 2 (irrelevant), 1 (relevant)
  assert out["num_queries"] == 1 and out["num_database"] == 3
  # A query with nothing relevant left is skipped.
  out = metrics.retrieval_metrics(q, db, np.array([[True, False, False]]), exclude=excl)
  assert out["num_queries"] == 0 and math.isnan(out["map@60"])


def test_retrieval_metrics_blocks_agree():
  rng = np.random.default_rng(3)
  q, db = rng.normal(size=(37, 6)), rng.normal(size=(50, 6))
  rel = rng.random((37, 50)) < 0.1
  rel[:, 0] = True
  a = metrics.retrieval_metrics(q, db, rel, block=1024)
  b = metrics.retrieval_metrics(q, db, rel, block=4)
  assert a == pytest.approx(b)
  c = metrics.retrieval_metrics(q, db, scipy.sparse.csr_matrix(rel), block=5)
  assert a == pytest.approx(c)
  sims = metrics.normalize_rows(q) @ metrics.normalize_rows(db).T
  expected = np.mean([average_precision_score(rel[i], sims[i]) for i in range(37)])
  assert a["map_full_list"] == pytest.approx(expected)  # 50 candidates: 60 covers them all
  assert a["map@60"] == pytest.approx(expected)


def test_map_at_60_sums_the_top_60_only():
  """The paper's AP@60: sum over ranks 1..60 of P(i) rel_i / R, R = all relevant.

  One query, 100 candidates ranked by score; relevant at ranks 1, 3 and 80.
  AP@60 = (1/1 + 2/3) / 3; the whole-list AP adds P(80) = 3/80.
  """
  n = 100
  q = np.array([[1.0, 0.0]])
  angles = np.linspace(0.0, 1.5, n)  # cosine decreases with the rank
  db = np.stack([np.cos(angles), np.sin(angles)], axis=1)
  relevance = np.zeros((1, n), bool)
  relevance[0, [0, 2, 79]] = True
  out = metrics.retrieval_metrics(q, db, relevance)
  assert out["map@60"] == pytest.approx((1 + 2 / 3) / 3)
  assert out["map_full_list"] == pytest.approx((1 + 2 / 3 + 3 / 80) / 3)
  assert metrics.retrieval_metrics(q, db, relevance, map_k=2)["map@2"] == pytest.approx(1 / 3)


SCORES = np.array([[0.9, 0.5, 0.1], [0.2, 0.8, 0.7]])
LABELS = np.array([[1, 0, 1], [0, 0, 1]])


def test_gap_hand_computed():
  # top 2 per item pooled: 0.9(+) 0.8(-) 0.7(+) 0.5(-); 3 positives in all.
  assert metrics.global_average_precision(SCORES, LABELS, top_k=2) == pytest.approx(
      (1 + 2 / 3) / 3)
  # top 3: all six pooled: 0.9+ 0.8- 0.7+ 0.5- 0.2- 0.1+
  assert metrics.global_average_precision(SCORES, LABELS, top_k=20) == pytest.approx(
      (1 + 2 / 3 + 3 / 6) / 3)


def test_hit_at_k_and_macro_map_hand_computed():
  assert metrics.hit_at_k(SCORES, LABELS, 1) == 0.5
  assert metrics.hit_at_k(SCORES, LABELS, 2) == 1.0
  # class 0: AP 1; class 1: no positive, skipped; class 2: scores .1(+) .7(+) -> AP 1.
  assert metrics.macro_average_precision(SCORES, LABELS) == pytest.approx(1.0)
  labels = np.array([[0, 1, 1], [1, 0, 0]])
  # class 0: ranked .9(-) .2(+) -> 1/2; class 1: .8(-) .5(+) -> 1/2; class 2: .7(-) .1(+) -> 1/2
  assert metrics.macro_average_precision(SCORES, labels) == pytest.approx(0.5)
  out = metrics.annotation_metrics(SCORES, LABELS)
  assert set(out) == {"gap@20", "map", "hit@1", "hit@5"}


def test_annotation_metrics_match_sklearn():
  rng = np.random.default_rng(7)
  scores = rng.random((60, 12))
  labels = rng.random((60, 12)) < 0.15
  labels[:, 3] = False  # a class with no positive is left out of macro MAP
  keep = labels.any(axis=0)
  assert metrics.macro_average_precision(scores, labels) == pytest.approx(
      average_precision_score(labels[:, keep], scores[:, keep], average="macro"))
  single = rng.integers(0, 12, size=60)
  onehot = np.eye(12, dtype=bool)[single]
  for k in (1, 5):
    assert metrics.hit_at_k(scores, onehot, k) == pytest.approx(
        top_k_accuracy_score(single, scores, k=k, labels=np.arange(12)))
  # GAP keeping every prediction = micro-averaged AP over all (item, class) pairs.
  assert metrics.global_average_precision(scores, labels, top_k=12) == pytest.approx(
      average_precision_score(labels.ravel(), scores.ravel()))
