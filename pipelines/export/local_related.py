"""Related items for `gcml export --engine=local`: the Beam engine's rows, on every core.

The same searches as the Beam transforms, on the same operands, so the rows
are the same bytes (`tests/pipelines/export/test_local.py`):

The result is a `related_rows.RelatedTable` (neighbours as rows of the
sorted ids, scores as float32, never a string per row), which
`related_rows.write_table` writes shard by shard as it formats.

* exact: `related_items.top_k_block` on the `FixedBatches` query batches;
  the batches run on `threads` Python threads at once (numpy and BLAS
  release the GIL while they compute). Each product is the Beam engine's
  call on the same operands, with BLAS's own threads as in the Beam worker:
  OpenBLAS's thread count changes the last bits of a product (6 % of the
  entries of (256 x 64) @ (64 x 20000) between one thread and two, on the
  2-core machine), concurrent calls do not.
* ivfflat, ivfpq: the index is trained, encoded and built as `related_ann`
  does (`related_ann.filled_index`); ivfpq's query blocks are searched on
  `threads` threads (faiss releases the GIL;
  one OpenMP thread per search, so a query's candidates do not depend on
  the others). The exact re-rank (`related_rerank.rerank`) is vectorised
  over a block: candidates sorted by id are the rows sorted by position,
  their unit rows are gathered from one unit-row matrix, and one batched
  matrix-vector product per block gives the per-query products' bits (a
  query with fewer candidates than asked goes through `rerank` itself);
  ivfflat is searched by probed list instead (`related_inverted.search` on
  blocks of `INVERTED_BLOCK` queries, one per thread, BLAS on one thread):
  its rows are the exact top K over the probed lists, whatever the block,
  so they are the Beam engine's, which searches its bundles the same way.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipelines.export import related_ann, related_inverted, related_items, related_rerank
from pipelines.export.fixed_batches import fixed_batches_local
from pipelines.io import related_rows
from pipelines.io.related_rows import RelatedTable, unit_rows

INVERTED_BLOCK = 32768  # ivfflat: queries per `related_inverted.search` call (rows do not depend on it)


def default_threads() -> int:
  """The cores this process may run on (the search's thread count)."""
  try:
    return max(1, len(os.sched_getaffinity(0)))
  except AttributeError:  # not on Linux
    return max(1, os.cpu_count() or 1)


def related_table(config, ids, matrix: np.ndarray, threads: int = 0) -> RelatedTable:
  """Every item's top-K, as `RelatedItems` finds them.

  Args:
    config: the export's settings (`search`, `top_k`, batches, IVF-PQ, re-rank).
    ids: the item ids, sorted.
    matrix: float32 [N, d]: their finite embeddings, row i of ids[i].
    threads: query batches searched at once (0: one per core); the rows do
      not depend on it.

  Returns:
    The `RelatedTable` of every item.
  """
  threads = threads or default_threads()
  table = related_rows.empty_table(ids, config.top_k)
  if config.search == "exact":
    _exact(config, table, matrix, threads)
  else:
    _ann(config, table, matrix, threads)
  return table


def _store(table: RelatedTable, rows, neighbour_rows, scores):
  """Puts the found (neighbour rows, scores) of query `rows` in the table."""
  for row, found, found_scores in zip(rows, neighbour_rows, scores):
    m = len(found)
    table.neighbours[row, :m] = found
    table.scores[row, :m] = found_scores
    table.counts[row] = m


def _exact(config, table, matrix, threads):
  index = related_items.index_from_matrix(table.ids, matrix, config.max_index_bytes)
  position = index.position
  product_lock = threading.Lock()

  def one_batch(batch):
    rows = np.array([position[i] for i in batch], np.int64)
    # The batch's unit rows: the bits `top_k_block` gets normalising the stacked batch
    # (each row is scaled by its own norm).
    scores, found = related_items.top_k_rows(index.matrix[rows], rows, index.matrix,
                                             config.top_k, config.index_chunk, product_lock)
    finite = np.isfinite(scores)
    counts = finite.sum(axis=1)
    table.neighbours[rows, :found.shape[1]] = np.where(finite, found, 0)
    table.scores[rows, :scores.shape[1]] = np.where(finite, scores, 0)
    table.counts[rows] = counts

  with ThreadPoolExecutor(threads) as pool:
    list(pool.map(one_batch, fixed_batches_local(table.ids, config.query_batch)))


def _ann(config, table, matrix, threads):
  params = config.ann_params()
  ids = table.ids
  ann = related_ann.filled_index(ids, matrix, params, config.max_index_bytes)
  if not ann.ids:
    return
  faiss = related_ann.configure_faiss()
  index = faiss.deserialize_index(ann.blob)
  del ann
  units = unit_rows(matrix)  # row-wise: each row's bits as unit_rows of that row alone
  if params.kind == "ivfflat":
    lists = related_inverted.from_faiss(index, params.nprobe)
    del index  # the lists hold copies of its vectors
    _inverted(table, units, lists, config.top_k, threads)
    return
  index.nprobe = min(params.nprobe, index.nlist)
  rerank = config.rerank_candidates()
  wanted = max(rerank, config.top_k)

  def one_block(start):
    related_ann.configure_faiss()  # OpenMP's thread count is per calling thread
    stop = min(start + config.query_batch, len(ids))
    rows = _candidate_rows(index, units[start:stop], np.arange(start, stop), wanted)
    if rerank:
      rows = _reranked(matrix, units, start, [r for r, _ in rows], config.top_k)
    _store(table, range(start, stop), [r for r, _ in rows], [sc for _, sc in rows])

  with ThreadPoolExecutor(threads) as pool:
    list(pool.map(one_block, range(0, len(ids), config.query_batch)))


def _inverted(table, units, lists, k: int, threads: int):
  """ivfflat: `related_inverted.search` on blocks of `INVERTED_BLOCK` queries, on `threads`."""

  def one_block(start):
    related_ann.configure_faiss()  # OpenMP's thread count is per calling thread
    stop = min(start + INVERTED_BLOCK, len(units))
    rows, scores, counts = related_inverted.search(lists, units[start:stop],
                                                   np.arange(start, stop), k)
    table.neighbours[start:stop] = rows
    table.scores[start:stop] = scores
    table.counts[start:stop] = counts

  with related_inverted.one_blas_thread(), ThreadPoolExecutor(threads) as pool:
    list(pool.map(one_block, range(0, len(units), INVERTED_BLOCK)))


def _candidate_rows(index, queries, self_rows, k: int):
  """`related_ann.search_block` on rows: per query (rows, scores) of its top k, never itself."""
  scores, labels = index.search(queries, min(k + 1, index.ntotal))
  keep = (labels >= 0) & (labels != self_rows[:, None])
  order = np.lexsort((labels, -scores, ~keep), axis=1)[:, :k]
  counts = np.minimum(keep.sum(axis=1), k)
  labels = np.take_along_axis(labels, order, axis=1)
  scores = np.take_along_axis(scores, order, axis=1)
  return [(labels[r, :c], scores[r, :c]) for r, c in enumerate(counts.tolist())]


def _reranked(matrix, units, start: int, candidates, k: int):
  """`related_rerank.rerank` of each query's candidate rows, vectorised over the full ones.

  Args:
    matrix: every item's embedding, in id order.
    units: `unit_rows(matrix)`.
    start: the block's first row (query q is row start + q).
    candidates: per query, its candidate rows.
    k: neighbours kept.

  Returns:
    Per query, (neighbour rows, scores) as `rerank` orders them.
  """
  width = max((len(c) for c in candidates), default=0)
  full = [q for q, c in enumerate(candidates) if len(c) == width and width]
  found = [None] * len(candidates)
  if full:
    rows = np.sort(np.stack([candidates[q] for q in full]), axis=1)  # id order
    scores = np.matmul(units[rows], units[start + np.array(full)][:, :, None])[:, :, 0]
    order = np.lexsort((np.broadcast_to(np.arange(width), scores.shape), -scores),
                       axis=1)[:, :k]
    best_rows = np.take_along_axis(rows, order, axis=1).tolist()
    best_scores = np.take_along_axis(scores, order, axis=1).tolist()
    for q, r, s in zip(full, best_rows, best_scores):
      found[q] = (r, s)
  for q, c in enumerate(candidates):
    if found[q] is None:
      best = related_rerank.rerank(matrix[start + q], [(int(j), matrix[j]) for j in c], k)
      found[q] = ([j for j, _ in best], [s for _, s in best])
  return found
