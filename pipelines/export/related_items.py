"""Top-K related items by cosine similarity (contract 7, `related-*.tsv`).

Design (see docs/export_and_evaluation.md):

* Index side, broadcast: all (id, embedding) pairs are combined into one
  `Index` (ids sorted, a float32 [N, d] matrix, rows unit-norm) and passed to
  every worker as a singleton side input. It must fit in one worker's memory
  (once per SDK process): N * d * 4 bytes, capped by `max_index_bytes`
  (default 1 GiB: 1M items at d = 256, 4M at d = 64); over the cap the
  pipeline fails with `IndexTooLargeError` rather than swap or die.
* Query side, sharded: queries are the same embeddings, batched in bundles
  (`BatchElements`), so the queries scale with the number of workers and
  never sit in one worker.
* Per query batch the index is scanned in chunks of `index_chunk` rows:
  scores = Q @ chunk^T (float32), a running top-K per query is kept, so the
  memory is O(batch * index_chunk) whatever N. This exact search costs
  O(N^2 d) in all.
* `search="ivfpq"` (`pipelines/export/related_ann.py`) broadcasts a faiss IVF-PQ
  index instead (about N * (code bytes + 8) bytes): approximate neighbours
  and scores, for indexes over the exact broadcast limit; `rerank` re-scores
  the index's candidates exactly (`pipelines/export/related_rerank.py`). The cap applies to
  the bytes actually broadcast (matrix or serialised index, plus the ids).
* The query itself is never its own neighbour. Ties in score are broken by
  the neighbour's id (ascending). Scores are written with 6 decimals.
* Query batches are fixed (`pipelines/export/fixed_batches.py`): a matrix product's last bits
  depend on the batch a row sits in, so the batches are formed from the ids
  alone (hash buckets, sorted by id, cut at `query_batch`), never from the
  runner's bundling, and the output is byte-identical run to run.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import apache_beam as beam
import numpy as np

from pipelines.export import related_ann
from pipelines.export.fixed_batches import FixedBatches
from pipelines.io.related_rows import MAX_INDEX_BYTES, SEARCHES, IndexTooLargeError, format_rows


class Index(NamedTuple):
  ids: tuple  # sorted item ids
  matrix: np.ndarray  # float32 [N, d], unit-norm rows in `ids` order
  position: dict  # id -> row


def build_index(pairs, max_bytes: int = MAX_INDEX_BYTES) -> Index:
  """Index from (id, embedding) pairs; rows L2-normalised.

  Raises IndexTooLargeError when the broadcast bytes (N * d * 4 for the
  matrix, plus the ids) exceed `max_bytes`.

  Args:
    pairs: (id, embedding) pairs.
    max_bytes: the cap on the index's size (it is broadcast to every worker).

  Returns:
    The `Index`.
  """
  pairs = sorted(pairs, key=lambda kv: kv[0])
  size = sum(4 * np.asarray(v).size + len(k.encode("utf-8")) for k, v in pairs)
  if size > max_bytes:
    raise IndexTooLargeError(
        f"the exact related-items index is {size} bytes ({len(pairs)} items), over the "
        f"broadcast limit of {max_bytes} bytes (--max_index_bytes); use the approximate "
        "search (--search=ivfpq) or raise the limit (docs/export_and_evaluation.md)")
  ids = tuple(k for k, _ in pairs)
  if not pairs:
    return Index((), np.zeros((0, 0), np.float32), {})
  matrix = np.stack([np.asarray(v, np.float32) for _, v in pairs])
  norms = np.linalg.norm(matrix, axis=1, keepdims=True)
  matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
  return Index(ids, matrix, {k: i for i, k in enumerate(ids)})


def top_k_block(query_ids, queries: np.ndarray, index: Index, k: int,
                index_chunk: int = 65536):
  """Exact top-k neighbours (by cosine, not self) for a block of queries.

  Args:
    query_ids: the block's ids.
    queries: their embeddings, one row each.
    index: the exact index.
    k: neighbours per query.
    index_chunk: index rows scored per matrix product.

  Returns:
    Per query, its (neighbor_id, score) pairs, best first.
  """
  queries = np.asarray(queries, np.float32)
  norms = np.linalg.norm(queries, axis=1, keepdims=True)
  queries = np.divide(queries, norms, out=np.zeros_like(queries), where=norms > 0)
  n = len(index.ids)
  self_rows = np.array([index.position.get(q, -1) for q in query_ids])
  best_scores = np.full((len(query_ids), 0), -np.inf, np.float32)
  best_rows = np.zeros((len(query_ids), 0), np.int64)
  for start in range(0, n, index_chunk):
    chunk = index.matrix[start:start + index_chunk]
    scores = queries @ chunk.T
    rows = np.arange(start, start + chunk.shape[0])
    hit = (self_rows >= start) & (self_rows < start + chunk.shape[0])
    scores[np.nonzero(hit)[0], self_rows[hit] - start] = -np.inf
    # Keep k + ties: candidates with the k-th score or better, then sort exactly.
    all_scores = np.concatenate([best_scores, scores], axis=1)
    all_rows = np.concatenate([best_rows, np.broadcast_to(rows, scores.shape)], axis=1)
    idx = _top_by_score_then_row(all_scores, all_rows, min(k, all_scores.shape[1]))
    best_scores = np.take_along_axis(all_scores, idx, axis=1)
    best_rows = np.take_along_axis(all_rows, idx, axis=1)
  finite = np.isfinite(best_scores)
  return [[(index.ids[j], s) for s, j in zip(best_scores[r][finite[r]].tolist(),
                                              best_rows[r][finite[r]].tolist())]
          for r in range(len(query_ids))]


def _top_by_score_then_row(scores, rows, keep):
  """Column indices of the `keep` best per row: score desc, then row (id) asc.

  An argpartition finds the keep-th best score; only the candidates at least
  that good (ties included) are sorted exactly.
  """
  if keep == 0:
    return np.zeros((scores.shape[0], 0), np.int64)
  if keep < scores.shape[1]:
    kth = -np.partition(-scores, keep - 1, axis=1)[:, keep - 1:keep]
  else:
    kth = np.full((scores.shape[0], 1), -np.inf, scores.dtype)
  out = np.empty((scores.shape[0], keep), np.int64)
  for r in range(scores.shape[0]):
    cand = np.nonzero(scores[r] >= kth[r, 0])[0]
    order = np.lexsort((rows[r, cand], -scores[r, cand]))[:keep]
    out[r] = cand[order]
  return out


class _TopKDoFn(beam.DoFn):

  def __init__(self, k: int, index_chunk: int):
    self._k = k
    self._chunk = index_chunk

  def process(self, batch, index):
    ids = [kv[0] for kv in batch]
    queries = np.stack([np.asarray(kv[1], np.float32) for kv in batch])
    for qid, neighbours in zip(ids, top_k_block(ids, queries, index, self._k, self._chunk)):
      yield from format_rows(qid, neighbours)


@dataclasses.dataclass
class RelatedItems(beam.PTransform):
  """(id, embedding) -> (sort_key, `id\\trank\\tneighbor\\tscore`) lines.

  Attributes:
    k: neighbours per item.
    query_batch: queries scored per matrix product.
    index_chunk: index rows scored per matrix product (exact search).
    max_index_bytes: cap on the bytes broadcast to every worker.
    search: "exact" or "ivfpq" (approximate, `pipelines/export/related_ann.py`).
    ann: `related_ann.AnnParams` for "ivfpq" (None: defaults).
    rerank: "ivfpq": candidates re-scored by exact cosine per item (0: none;
      `pipelines/export/related_rerank.py`).
  """
  k: int = 60
  query_batch: int = 256
  index_chunk: int = 65536
  max_index_bytes: int = MAX_INDEX_BYTES
  search: str = "exact"
  ann: object = None
  rerank: int = 0

  def __post_init__(self):
    super().__init__()

  def expand(self, embeddings):
    if self.search not in SEARCHES:
      raise ValueError(f"search must be one of {SEARCHES}, got {self.search!r}")
    if self.search == "ivfpq":
      return embeddings | "Approximate" >> related_ann.AnnRelatedItems(
          self.k, self.query_batch, self.max_index_bytes, self.ann or related_ann.AnnParams(),
          self.rerank)
    index = (embeddings
             | "CollectIndex" >> beam.combiners.ToList()
             | "BuildIndex" >> beam.Map(build_index, self.max_index_bytes))
    return (embeddings
            | "BatchQueries" >> FixedBatches(self.query_batch)
            | "TopK" >> beam.ParDo(_TopKDoFn(self.k, self.index_chunk),
                                   index=beam.pvalue.AsSingleton(index)))
