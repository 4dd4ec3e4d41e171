"""Cold-start retrieval through an IVF index: `gcml evaluate --search=ivfflat|ivfpq`.

The exact search (`--search=exact`, `model/metrics.py`) scores every query
against the whole database: O(Q x N x d) products and a rank count over each
[Q, N] row, which at 1M items (283k test queries and as many database items)
takes hours. With an IVF index only each query's top candidates are ranked:

1. Index (one per model): trained and built as `gcml export --search=...`
   builds its related-items index (`pipelines/export/related_ann.py`): the
   training sample is the `train_size` database ids with the smallest
   `related_ann.sample_key`, every database item is encoded against the
   trained index (`sa_encode` of its float32 unit row) and added in database
   order (label = position), so the index's bytes do not depend on the
   engine, the runner or the thread count.
2. Candidates: each query's top `max(ndcg_k, map_k) + 1` of the database by
   the index (`nprobe` inverted lists; ivfflat: exact float32 inner products
   of unit rows, ivfpq: approximate ones), the query itself removed.
3. Exact re-rank: the candidates, in database order, are scored by the exact
   cosine of the evaluation (float64 unit rows, as `metrics.normalize_rows`)
   and ordered by score, descending, ties kept in database order (a stable
   sort, as the exact ranking breaks ties).
4. Metrics: AP@k and NDCG@k of that list with the exact definitions
   (`model/metrics_blocks.top_list_metrics`): R counts every relevant item of
   the query, found or not, so an item the index missed is a miss. The
   whole-list AP (`map_full_list`) needs every candidate's rank: it is None
   (null in metrics.json).

When the top `max(k)` of every re-ranked list are the exact ranking's (for
instance with every list probed, `nprobe >= nlist`, and no two scores within
float32 rounding of each other around rank max(k)), MAP@k and NDCG@k are the
exact search's, bit for bit: the same ranks go through the same arithmetic.

faiss runs with one OpenMP thread and no BLAS (`related_ann.configure_faiss`),
and the re-rank sums each candidate's products alone (`np.einsum`, no BLAS),
so a query's values depend neither on the other queries of its block nor on
the thread count. The Beam engine (`ann_retrieval_beam.py`) builds the same
index and calls `search_candidates` and `rank_candidates` on its own batches
of queries: the same values.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse

from model import metrics, metrics_blocks
from pipelines.export import related_ann
from pipelines.io.related_rows import unit_rows

SEARCHES = ("exact",) + related_ann.INDEX_KINDS
NO_INDEX_CAP = 1 << 62  # evaluate sets no cap (its docs give each search's bytes per worker)


@dataclasses.dataclass(frozen=True)
class Search:
  """How candidates are found (`--search` and the `--ann_*` flags of `gcml evaluate`).

  Attributes:
    kind: "exact" (every pair), "ivfflat" or "ivfpq".
    params: the IVF index settings (kind "ivfflat" or "ivfpq").
  """
  kind: str = "exact"
  params: related_ann.AnnParams = related_ann.AnnParams()

  @property
  def exact(self) -> bool:
    return self.kind == "exact"

  def record(self) -> dict:
    """The search as metrics.json records it (section `search`)."""
    if self.exact:
      return {"kind": "exact"}
    p = self.params
    out = {"kind": self.kind, "nprobe": p.nprobe, "nlist": p.nlist, "train_size": p.train_size}
    if self.kind == "ivfpq":
      out["code_bytes"] = p.code_bytes
    return out


def build_index(ids, matrix: np.ndarray, params: related_ann.AnnParams) -> related_ann.AnnIndex:
  """One model's filled IVF index over the database, as `gcml export` builds its index.

  Args:
    ids: the database ids, sorted (label = position).
    matrix: float32 [N, d], row i the vector of ids[i].
    params: the index settings.

  Returns:
    The `related_ann.AnnIndex` (ids and serialised index).
  """
  return related_ann.filled_index(ids, matrix, params, NO_INDEX_CAP)


class BlockScorer:
  """One model's top-list metrics of query blocks: its index and database, ready to search.

  Args:
    index: the model's `related_ann.AnnIndex`.
    matrix: float32 [N, d], the database vectors in the index's order.
    nprobe: inverted lists searched per query.
  """

  def __init__(self, index: related_ann.AnnIndex, matrix: np.ndarray, nprobe: int):
    faiss = related_ann.configure_faiss()
    self._index = faiss.deserialize_index(index.blob)
    self._index.nprobe = min(nprobe, self._index.nlist)
    matrix = np.asarray(matrix, np.float32)
    self._units32 = unit_rows(matrix)  # what the index holds and is searched with
    self._units64 = metrics.normalize_rows(matrix)  # the exact cosine's unit rows
    self.size = matrix.shape[0]

  def block_metrics(self, rows, relevant, ndcg_k: int = 60, map_k: int = 60) -> list:
    """Per query of a block: (AP@map_k, None, NDCG@ndcg_k, R).

    Args:
      rows: the queries' database positions (each query is a database item).
      relevant: per query, the database positions of its relevant items
        (sorted int64 array, at least one).
      ndcg_k: the k of NDCG@k.
      map_k: the k of MAP@k.

    Returns:
      One tuple per query, in order (`metrics_blocks.top_list_metrics`).
    """
    rows = np.asarray(rows, np.int64)
    n = self.size
    labels = search_candidates(self._index, self._units32[rows], rows, n,
                               candidate_width(n, ndcg_k, map_k))
    candidates = self._units64[np.where(labels < n, labels, 0)]
    ranked = rank_candidates(labels, candidates, self._units64[rows], n)
    return metrics_blocks.top_list_metrics(ranked, relevant, n - 1, ndcg_k, map_k)


def candidate_width(n: int, ndcg_k: int, map_k: int) -> int:
  """Candidates asked of the index per query: max(k) + 1 (the query itself is one), at most n."""
  return min(max(ndcg_k, map_k) + 1, n)


def search_candidates(index, units32: np.ndarray, rows, n: int, width: int) -> np.ndarray:
  """Each query's candidates by the index, in database order, the query itself removed.

  Args:
    index: the filled faiss index (`nprobe` set).
    units32: float32 [B, d], the queries' unit rows (`unit_rows`, what the index holds).
    rows: int64 [B], the queries' database positions.
    n: the database size.
    width: candidates asked per query (`candidate_width`).

  Returns:
    int64 [B, width]: per row the candidates' positions, ascending, then n for none.
  """
  related_ann.configure_faiss()  # OpenMP's thread count is per calling thread
  _, labels = index.search(units32, width)
  gone = (labels < 0) | (labels == np.asarray(rows, np.int64)[:, None])
  return np.sort(np.where(gone, n, labels), axis=1)


def rank_candidates(labels: np.ndarray, candidates64: np.ndarray, queries64: np.ndarray,
                    n: int) -> np.ndarray:
  """The exact re-rank: candidates ordered by exact cosine, descending, ties in database order.

  Both engines call it on the same rows (each row alone: its products are summed per
  candidate, no BLAS), so a query's order does not depend on the other rows.

  Args:
    labels: int64 [B, W] from `search_candidates` (n for none).
    candidates64: float64 [B, W, d], the candidates' unit rows (`metrics.normalize_rows`;
      any values where there is none).
    queries64: float64 [B, d], the queries' unit rows.
    n: the database size.

  Returns:
    int64 [B, W]: the candidates' positions in rank order, -1 for none.
  """
  found = labels < n
  scores = np.einsum("bwd,bd->bw", candidates64, queries64)
  scores = np.where(found, scores, -np.inf)
  order = np.argsort(-scores, axis=1, kind="stable")
  return np.where(np.take_along_axis(found, order, axis=1),
                  np.take_along_axis(labels, order, axis=1), -1)


def default_threads() -> int:
  """The cores this process may run on (query blocks searched at once)."""
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # not on Linux
    return max(1, os.cpu_count() or 1)


def retrieval_metrics(ids, vectors: np.ndarray, relevance, search: Search, ndcg_k: int = 60,
                      map_k: int = 60, block: int = 1024, threads: int = 0) -> dict:
  """`metrics.retrieval_metrics` of queries that are the database, through an IVF index.

  Args:
    ids: the database ids, sorted (they choose the index's training sample).
    vectors: float32 [N, d], the database (and query) vectors, in database order.
    relevance: [N, N] bool (scipy.sparse or numpy): True where database item
      j is related to query i (never i itself).
    search: the index settings (an IVF kind).
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.
    block: queries searched per call (the Beam engine's blocks).
    threads: blocks searched at once (0: one per core); the values do not depend on it.

  Returns:
    The metrics dictionary, `map_full_list` None.
  """
  n = vectors.shape[0]
  scorer = BlockScorer(build_index(ids, vectors, search.params), vectors, search.params.nprobe)
  relevance = scipy.sparse.csr_matrix(relevance, dtype=bool)

  def one_block(start):
    stop = min(n, start + block)
    related = [np.sort(relevance.indices[relevance.indptr[r]:relevance.indptr[r + 1]]
                       ).astype(np.int64) for r in range(start, stop)]
    keep = [r for r in range(stop - start) if len(related[r])]
    return scorer.block_metrics(np.arange(start, stop)[keep], [related[r] for r in keep],
                                ndcg_k, map_k)

  totals = metrics.RetrievalTotals()
  with ThreadPoolExecutor(threads or default_threads()) as pool:
    for rows in pool.map(one_block, range(0, n, block)):
      totals.add_rows(rows)
  return totals.result(n, ndcg_k, map_k)
