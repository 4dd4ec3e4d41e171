"""Retrieval and annotation metrics, exactly as in the GCML paper (pure numpy).

Retrieval (paper section 4, "Evaluation Metrics"; DESIGN.md "Metrics"):

* Ranking: candidates sorted by score, descending; equal scores keep the
  candidates' given order (a stable sort), so results never depend on chance.
* `rel_i` in {0, 1} is the relevance of the item at rank i (1-based).
* DCG@k = sum_{i=1..k} (2^rel_i - 1) / log2(i + 1)   (paper eq. 2).
* NDCG@k = DCG@k / IDCG@k, where IDCG@k is the DCG of the ideal list: the
  min(k, R) relevant items first (R = number of relevant candidates). A
  query with R = 0 has no defined NDCG; `ndcg_at_k` returns nan for it and
  the evaluation only forms queries with R >= 1.
* AP@k = sum_{i=1..k} P(i) * Δr(i), where P(i) = (relevant in top i) / i and
  Δr(i) = rel_i / R is the change in recall at rank i and R the number of
  relevant candidates (paper section 4.3.1, eq. 3, with k = 60: the area
  under the precision-recall curve of the top 60; the recall that the top k
  misses counts as zero precision, so AP@k <= 1 and AP@k = 1 only when every
  relevant item is in the top k, ranked first).
* MAP@k = mean over queries of AP@k: the papers' headline retrieval metric.
  The whole-list AP (the sum over all n candidates) is also reported, as
  `map_full_list`, never as the headline: on random data the two differ by
  a factor of about 3.
* NDCG@k likewise averaged over queries.

Annotation (paper section 5.2; YouTube-8M and Sports-1M protocols):

* GAP (global average precision, YouTube-8M): keep each item's top 20
  predictions (class scores), pool all of them over all items, sort by score
  (descending, stable), and compute sum_i P(i) Δr(i) over the pooled list
  with Δr(i) = rel_i / N, N = the total number of true labels of all items
  (labels that never reach a top 20 lower the score, as in the YouTube-8M
  evaluation code).
* Macro MAP: for every class, AP of that class's scores over all items
  (relevance = the item has the label), averaged over the classes that have
  at least one positive item (a class with no positive has no defined AP).
* Hit@k (Sports-1M): share of items with at least one true label among
  their k highest-scoring classes.
"""

from __future__ import annotations

import collections
import fractions

import numpy as np
import scipy.sparse

from model import metrics_blocks


def _ranked(relevance, scores=None):
  rel = np.asarray(relevance, dtype=np.float64).ravel()
  if scores is not None:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.shape != rel.shape:
      raise ValueError(f"scores {scores.shape} and relevance {rel.shape} differ in shape")
    rel = rel[np.argsort(-scores, kind="stable")]
  if np.any((rel != 0) & (rel != 1)):
    raise ValueError("relevance must be binary (0/1)")
  return rel


def dcg_at_k(relevance, k: int, scores=None) -> float:
  """DCG@k = sum_{i<=k} (2^rel_i - 1) / log2(i + 1) over the ranked list.

  Args:
    relevance: 0/1 per candidate; in rank order unless `scores` is given.
    k: cut-off (k >= 1).
    scores: optional candidate scores; the list is ranked by them first.
  """
  rel = _ranked(relevance, scores)[:k]
  return float(np.sum((2.0**rel - 1.0) / np.log2(np.arange(2, rel.size + 2))))


def ndcg_at_k(relevance, k: int, scores=None) -> float:
  """NDCG@k = DCG@k / IDCG@k (nan when no candidate is relevant)."""
  rel = _ranked(relevance, scores)
  num_relevant = int(rel.sum())
  if num_relevant == 0:
    return float("nan")
  ideal = dcg_at_k(np.ones(min(k, num_relevant)), k)
  return dcg_at_k(rel, k) / ideal


def average_precision(relevance, scores=None, k: int | None = None) -> float:
  """AP = sum_i P(i) Δr(i), Δr(i) = rel_i / R, over the ranked list (top k if given).

  nan when no candidate is relevant (R = 0).
  """
  rel = _ranked(relevance, scores)
  num_relevant = rel.sum()
  if num_relevant == 0:
    return float("nan")
  top = rel if k is None else rel[:k]
  precision = np.cumsum(top) / np.arange(1, top.size + 1)
  return float(np.sum(precision * top) / num_relevant)


def retrieval_metrics(query_vectors: np.ndarray, database_vectors: np.ndarray,
                      relevance: np.ndarray, exclude: np.ndarray | None = None,
                      ndcg_k: int = 60, map_k: int = 60,
                      block: int = 1024) -> dict:
  """MAP@k, NDCG@k and the whole-list MAP for cosine ranking of a database per query.

  Args:
    query_vectors: [Q, d]; rows are L2-normalised here (cosine).
    database_vectors: [N, d]; likewise.
    relevance: [Q, N] bool (numpy or scipy.sparse), True where database item j
      is related to query q.
    exclude: optional [Q, N] bool (numpy or scipy.sparse), candidates removed
      from q's list (the query itself when it is also in the database).
    ndcg_k: the k of NDCG@k (60 in the paper).
    map_k: the k of MAP@k (60 in the paper).
    block: queries scored per matrix product (bounds memory to block x N).

  Returns:
    {"map@k", "ndcg@k", "map_full_list", "num_queries", "num_database",
    "mean_relevant"}; queries with no relevant candidate left are skipped.
  """
  q = normalize_rows(query_vectors)
  db = normalize_rows(database_vectors)
  totals = RetrievalTotals()
  for start in range(0, q.shape[0], block):
    sims = q[start:start + block] @ db.T
    rel_block = _rows(relevance, start, start + block)
    excl_block = None if exclude is None else _rows(exclude, start, start + block)
    totals.add_rows(block_query_metrics(sims, rel_block, excl_block, ndcg_k, map_k))
  return totals.result(int(db.shape[0]), ndcg_k, map_k)


def block_query_metrics(sims, rel_block, excl_block=None, ndcg_k: int = 60, map_k: int = 60):
  """Per query of a block: (AP@map_k, whole-list AP, NDCG@ndcg_k, relevant count).

  The per-query functions' values, bit for bit, for the whole block at once:
  `model/metrics_blocks.block_query_metrics` (its Args and Returns).
  """
  return metrics_blocks.block_query_metrics(sims, rel_block, excl_block, ndcg_k, map_k)


class RetrievalTotals:
  """Exact sums of per-query metrics: means that do not depend on the order of the queries.

  Each value is added as an exact fraction (a float is a dyadic rational), so
  totals merged in any order or grouping (a Beam combine over workers, or
  one loop in memory) give the same sums, and each mean is the float
  nearest to the exact mean. A value given as None (the whole-list AP of a
  top-k search) makes its mean None.
  """

  def __init__(self):
    self.count = 0
    self.sums = [fractions.Fraction(0)] * 3  # AP@k, whole-list AP, NDCG@k; None: unknown
    self.relevant = 0

  def add(self, row) -> "RetrievalTotals":
    """Adds one query's (AP@k, whole-list AP, NDCG@k, relevant count)."""
    return self.add_rows([row])

  def add_rows(self, rows) -> "RetrievalTotals":
    """Adds many queries' rows at once (exact sums)."""
    rows = list(rows)
    if rows:
      self.count += len(rows)
      self.sums = [_plus(a, [r[i] for r in rows]) for i, a in enumerate(self.sums)]
      self.relevant += sum(r[3] for r in rows)
    return self

  def merge(self, other: "RetrievalTotals") -> "RetrievalTotals":
    """Adds another total's queries into this one."""
    self.count += other.count
    self.sums = [None if a is None or b is None else a + b
                 for a, b in zip(self.sums, other.sums)]
    self.relevant += other.relevant
    return self

  def result(self, num_database: int, ndcg_k: int = 60, map_k: int = 60) -> dict:
    """The metrics dictionary of `retrieval_metrics` (None where a value is unknown)."""
    nan = float("nan")
    ap, full_ap, ndcg = (None if v is None else float(v / self.count) if self.count else nan
                         for v in self.sums)
    return {f"map@{map_k}": ap, f"ndcg@{ndcg_k}": ndcg, "map_full_list": full_ap,
            "num_queries": self.count, "num_database": num_database,
            "mean_relevant": float(fractions.Fraction(self.relevant, self.count))
                             if self.count else nan}


def _plus(total, values):
  """`total` plus the exact sum of `values`; None when either is unknown (None)."""
  if total is None or any(v is None for v in values):
    return None
  return total + metrics_blocks.exact_sum(values)


def retrieval_sets(edges, items):
  """Queries, database and sparse relevance / self-exclusion matrices of a held-out part.

  Args:
    edges: (a, b) pairs between held-out items (either order).
    items: the held-out items that can take part (those with vectors).

  Returns:
    (queries, database, relevance, exclude): queries are the items with at
    least one related item, the database the union of their related items
    (both sorted), relevance [Q, N] and exclude [Q, N] (the query itself)
    sparse bool matrices.
  """
  related = collections.defaultdict(set)
  for a, b in edges:
    if a in items and b in items and a != b:
      related[a].add(b)
      related[b].add(a)
  queries = sorted(related)
  database = sorted(set().union(*related.values())) if related else []
  position = {k: i for i, k in enumerate(database)}
  rows, cols = [], []
  for r, q in enumerate(queries):
    for n in related[q]:
      rows.append(r)
      cols.append(position[n])
  relevance = scipy.sparse.csr_matrix(
      (np.ones(len(rows), bool), (rows, cols)), shape=(len(queries), len(database)))
  self_rows = [r for r, q in enumerate(queries) if q in position]
  self_cols = [position[queries[r]] for r in self_rows]
  exclude = scipy.sparse.csr_matrix(
      (np.ones(len(self_rows), bool), (self_rows, self_cols)),
      shape=(len(queries), len(database)))
  return queries, database, relevance, exclude


def _rows(matrix, start: int, stop: int):
  """Rows start:stop of a bool matrix: scipy.sparse stays sparse (never a dense [rows, N])."""
  rows = matrix[start:stop]
  return rows if hasattr(rows, "tocsr") else np.asarray(rows, dtype=bool)


def normalize_rows(x: np.ndarray) -> np.ndarray:
  """Rows scaled to unit L2 norm (zero rows stay zero)."""
  x = np.asarray(x, dtype=np.float64)
  norms = np.linalg.norm(x, axis=1, keepdims=True)
  return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def _check_multilabel(scores, labels):
  scores = np.asarray(scores, dtype=np.float64)
  labels = np.asarray(labels, dtype=bool)
  if scores.ndim != 2 or scores.shape != labels.shape:
    raise ValueError(f"scores {scores.shape} and labels {labels.shape} must be [items, classes]")
  return scores, labels


def global_average_precision(scores, labels, top_k: int = 20) -> float:
  """GAP over the top `top_k` predictions of each item (YouTube-8M).

  Args:
    scores: [items, classes] predicted scores.
    labels: [items, classes] 0/1 true labels.
    top_k: predictions kept per item (20 in YouTube-8M).
  """
  scores, labels = _check_multilabel(scores, labels)
  num_positives = labels.sum()
  if num_positives == 0:
    return float("nan")
  k = min(top_k, scores.shape[1])
  top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
  pooled_scores = np.take_along_axis(scores, top, axis=1).ravel()
  pooled_rel = np.take_along_axis(labels, top, axis=1).ravel().astype(np.float64)
  order = np.argsort(-pooled_scores, kind="stable")
  rel = pooled_rel[order]
  precision = np.cumsum(rel) / np.arange(1, rel.size + 1)
  return float(np.sum(precision * rel) / num_positives)


def macro_average_precision(scores, labels) -> float:
  """Mean over classes (with >= 1 positive item) of the class's AP over items."""
  scores, labels = _check_multilabel(scores, labels)
  aps = [average_precision(labels[:, c], scores[:, c])
         for c in range(labels.shape[1]) if labels[:, c].any()]
  return float(np.mean(aps)) if aps else float("nan")


def hit_at_k(scores, labels, k: int) -> float:
  """Share of items with a true label among their k top-scoring classes."""
  scores, labels = _check_multilabel(scores, labels)
  top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
  return float(np.mean(np.take_along_axis(labels, top, axis=1).any(axis=1)))


def annotation_metrics(scores, labels) -> dict:
  """{"gap@20", "map", "hit@1", "hit@5"} for multi-label predictions."""
  return {"gap@20": global_average_precision(scores, labels, 20),
          "map": macro_average_precision(scores, labels),
          "hit@1": hit_at_k(scores, labels, 1),
          "hit@5": hit_at_k(scores, labels, 5)}
