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

import contextlib
from typing import NamedTuple

import numpy as np

from pipelines.io.related_rows import MAX_INDEX_BYTES, IndexTooLargeError


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
  if not pairs:
    return index_from_matrix((), np.zeros((0, 0), np.float32), max_bytes)
  return index_from_matrix(tuple(k for k, _ in pairs),
                           np.stack([np.asarray(v, np.float32) for _, v in pairs]), max_bytes)


def index_from_matrix(ids, matrix: np.ndarray, max_bytes: int = MAX_INDEX_BYTES) -> Index:
  """`build_index` of ids already sorted and their embeddings, one row each.

  Args:
    ids: the sorted item ids.
    matrix: float32 [N, d], row i the embedding of ids[i].
    max_bytes: the cap on the index's size (`build_index`).

  Returns:
    The `Index`.
  """
  size = 4 * int(matrix.size) + sum(len(k.encode("utf-8")) for k in ids)
  if size > max_bytes:
    raise IndexTooLargeError(
        f"the exact related-items index is {size} bytes ({len(ids)} items), over the "
        f"broadcast limit of {max_bytes} bytes (--max_index_bytes); use the approximate "
        "search (--search=ivfpq) or raise the limit (docs/export_and_evaluation.md)")
  ids = tuple(ids)
  if not ids:
    return Index((), np.zeros((0, 0), np.float32), {})
  norms = np.linalg.norm(matrix, axis=1, keepdims=True)
  matrix = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
  return Index(ids, matrix, {k: i for i, k in enumerate(ids)})


def top_k_block(query_ids, queries: np.ndarray, index: Index, k: int,
                index_chunk: int = 65536):
  """Exact top-k neighbours (by cosine, not self) for a block of queries.

  Per index chunk the scores are one matrix product; only the entries at
  least as good as the running k-th best (on the first chunk: the chunk's
  own k-th best, `np.partition`) are candidates, and the candidates are
  ordered by (score descending, row ascending), all vectorised.

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
  self_rows = np.array([index.position.get(q, -1) for q in query_ids], np.int64)
  best_scores, best_rows = top_k_rows(queries, self_rows, index.matrix, k, index_chunk)
  finite = np.isfinite(best_scores)
  return [[(index.ids[j], s) for s, j in zip(best_scores[r][finite[r]].tolist(),
                                              best_rows[r][finite[r]].tolist())]
          for r in range(len(query_ids))]


def top_k_rows(queries: np.ndarray, self_rows: np.ndarray, matrix: np.ndarray, k: int,
               index_chunk: int = 65536, product_lock=contextlib.nullcontext()):
  """`top_k_block` on rows: unit-norm queries against the index's unit rows.

  Args:
    queries: float32 [B, d], unit-norm rows.
    self_rows: int64 [B]: each query's own row in `matrix` (-1: none).
    matrix: the index's unit rows ([N, d]).
    k: neighbours per query.
    index_chunk: index rows scored per matrix product.
    product_lock: held around each matrix product (threads that share one:
      one product at a time, BLAS's own threads on every core; the bits do
      not change).

  Returns:
    (scores, rows) [B, m], m <= k: best first; -inf scores (row N) past a
    query's last neighbour.
  """
  n, b = matrix.shape[0], queries.shape[0]
  best_scores = np.full((b, 0), -np.inf, np.float32)
  best_rows = np.zeros((b, 0), np.int64)
  for start in range(0, n, index_chunk):
    chunk = matrix[start:start + index_chunk]
    with product_lock:
      scores = queries @ chunk.T
    hit = (self_rows >= start) & (self_rows < start + chunk.shape[0])
    scores[np.nonzero(hit)[0], self_rows[hit] - start] = -np.inf
    if best_scores.shape[1] >= k:  # the running k-th best bounds what can still enter
      threshold = best_scores[:, k - 1:k]
    elif scores.shape[1] > k:  # the chunk's own k-th best (ties kept)
      kth = scores.shape[1] - k
      threshold = np.partition(scores, kth, axis=1)[:, kth:kth + 1]
    else:
      threshold = None
    cand_scores, cand_rows = _candidates(scores, threshold, start, n)
    all_scores = np.concatenate([best_scores, cand_scores], axis=1)
    all_rows = np.concatenate([best_rows, cand_rows], axis=1)
    order = np.lexsort((all_rows, -all_scores), axis=1)[:, :k]
    best_scores = np.take_along_axis(all_scores, order, axis=1)
    best_rows = np.take_along_axis(all_rows, order, axis=1)
  return best_scores, best_rows


def _candidates(scores, threshold, start: int, n: int):
  """Per row, the entries with score >= threshold (all with None), padded.

  Returns (scores, rows) [B, m]: m the most candidates of a row; a row with
  fewer is padded with -inf at row n (after every real row), which the
  ordering puts last and the final finite filter drops.
  """
  b, width = scores.shape
  if threshold is None:
    return scores, np.broadcast_to(np.arange(start, start + width, dtype=np.int64), (b, width))
  r, c = np.divmod(np.flatnonzero(scores >= threshold), width)
  counts = np.bincount(r, minlength=b)
  m = int(counts.max()) if b else 0
  out_scores = np.full((b, m), -np.inf, np.float32)
  out_rows = np.full((b, m), n, np.int64)
  slot = np.arange(len(r)) - np.repeat(np.cumsum(counts) - counts, counts)
  out_scores[r, slot] = scores[r, c]
  out_rows[r, slot] = c + start
  return out_scores, out_rows
