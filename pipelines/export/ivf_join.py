"""IVF-Flat related items as a self-join of the inverted lists (`--search=ivfflat`).

faiss's IVF search scans, per query, the `nprobe` lists nearest the query:
one inner product at a time (about 5 GFLOP/s on one core), and a heap per
query. Every item is also a query here, so the search turns inside out: each
inverted list L is joined with the `nprobe` lists whose centroids are
nearest L's centroid (`IvfLists.probes`, L itself first), its members against
all their members in one matrix product per block (BLAS, 10-20x faster per
score), the top K kept per member. A member thus searches the lists nearest
its list's centroid rather than nearest itself: a little less recall at the
same nprobe, for far less CPU per probed list (docs/export_and_evaluation.md).

Scores and determinism: the BLAS scores only choose candidates. Their last
bits depend on the BLAS library, its thread count and the block shapes, but
each is within `score_slack(dim)` of the exact inner product, so every
candidate whose BLAS score is within twice that of the running K-th best is
kept, and those are scored again by `exact_scores` (float64 products of the
float32 unit vectors, summed in numpy's fixed order, rounded to float32).
The K best by that score (ties by row, i.e. by id) are then the same
whatever the BLAS did: a member's neighbours and scores depend only on the
vectors of its pool, never on the engine, the worker count, the threads or
the other members of its block.

Both engines call `join_list` on the lists of the same filled faiss index
(`related_ann.build_index`): the local engine on every core
(`local_related.py`), the Beam engine one list per element
(`related_ann_beam.py`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

QUERY_BLOCK = 512  # members scored per matrix product
POOL_CHUNK = 8192  # pool items scored per matrix product


class IvfLists(NamedTuple):
  """The inverted lists of a filled IVF-Flat index, as arrays.

  Attributes:
    rows: int64 [N]: the items (rows of the sorted ids), list by list,
      ascending within a list.
    offsets: int64 [nlist + 1]: list l is `rows[offsets[l]:offsets[l + 1]]`.
    vectors: float32 [N, d]: the items' unit vectors, in `rows` order.
    probes: int64 [nlist, p]: per list, the lists it is joined with, itself first.
  """
  rows: np.ndarray
  offsets: np.ndarray
  vectors: np.ndarray
  probes: np.ndarray


class ListNeighbours(NamedTuple):
  """One list's top K: `rows[i]`'s neighbours are `neighbours[i, :counts[i]]`."""
  rows: np.ndarray  # int64 [m]: the list's members
  neighbours: np.ndarray  # int64 [m, K]: their neighbours' rows, best first
  scores: np.ndarray  # float32 [m, K]: the neighbours' `exact_scores`
  counts: np.ndarray  # int64 [m]: neighbours found per member


def score_slack(dim: int) -> float:
  """A bound on |BLAS float32 inner product - `exact_scores`| of two unit vectors.

  A float32 dot product of length d, in any summation order, with or
  without fused multiply-adds, is within d u / (1 - d u) of the exact value
  (u = 2^-24, norms <= 1 + u); `exact_scores` is within u. Doubled for margin.

  Args:
    dim: the vectors' dimension.

  Returns:
    The bound.
  """
  return 2.0 * (dim + 2) * 2.0 ** -24


def assign_lists(centroids: np.ndarray, units: np.ndarray) -> np.ndarray:
  """Each vector's inverted list: the centroid of the highest `exact_scores` inner product.

  BLAS scores every centroid; the centroids within twice the slack of a
  row's best BLAS score are scored again exactly, the best kept (ties: the
  lowest list). So a vector's list depends on it and the centroids alone,
  not on the other vectors of its batch, the BLAS or its threads.

  Args:
    centroids: float32 [nlist, d] (not unit-norm).
    units: float32 [n, d]: unit vectors.

  Returns:
    int64 [n]: list numbers.
  """
  if not len(units):
    return np.zeros(0, np.int64)
  norm = float(np.linalg.norm(centroids, axis=1).max())
  slack = 2 * score_slack(centroids.shape[1]) * max(1.0, norm) * 1.01
  blas = units @ centroids.T
  best = blas.max(axis=1)
  r, c = np.nonzero(blas >= (best - np.float32(slack))[:, None])
  exact = exact_scores(units[r], centroids[c][:, None, :])[:, 0]
  order = np.lexsort((c, -exact, r))  # per row: best exact score, then the lowest list
  first = np.ones(len(r), bool)
  first[1:] = r[order][1:] != r[order][:-1]
  return c[order][first].astype(np.int64)


def ivf_lists(index, nprobe: int) -> IvfLists:
  """The lists of a filled faiss `IndexIVFFlat` (unit vectors, labels = rows).

  Args:
    index: the filled index (`related_ann.build_index`, deserialised).
    nprobe: lists joined with each list (at most nlist).

  Returns:
    The `IvfLists`.
  """
  import faiss  # pylint: disable=import-outside-toplevel
  nlist, dim = int(index.nlist), int(index.d)
  invlists = faiss.downcast_InvertedLists(index.invlists)
  sizes = np.array([invlists.list_size(l) for l in range(nlist)], np.int64)
  offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
  rows = np.zeros(int(offsets[-1]), np.int64)
  vectors = np.zeros((int(offsets[-1]), dim), np.float32)
  for l in range(nlist):
    if not sizes[l]:
      continue
    start, stop = offsets[l], offsets[l + 1]
    ids = invlists.get_ids(l)
    codes = invlists.get_codes(l)
    try:
      faiss.memcpy(faiss.swig_ptr(rows[start:stop]), ids, int(sizes[l]) * 8)
      faiss.memcpy(faiss.swig_ptr(vectors[start:stop]), codes, int(sizes[l]) * dim * 4)
    finally:
      invlists.release_ids(l, ids)
      invlists.release_codes(l, codes)
    order = np.argsort(rows[start:stop], kind="stable")
    rows[start:stop] = rows[start:stop][order]
    vectors[start:stop] = vectors[start:stop][order]
  return IvfLists(rows, offsets, vectors, list_probes(index.quantizer, nlist, nprobe))


def list_probes(quantizer, nlist: int, nprobe: int) -> np.ndarray:
  """Per list, itself and the nprobe - 1 other lists whose centroids score highest against its own.

  Args:
    quantizer: the index's coarse quantizer (faiss `IndexFlatIP`, one thread, no BLAS).
    nlist: its centroids.
    nprobe: lists per row (at most nlist).

  Returns:
    int64 [nlist, min(nprobe, nlist)].
  """
  p = max(1, min(nprobe, nlist))
  centroids = quantizer.reconstruct_n(0, nlist)
  _, found = quantizer.search(centroids, min(p + 1, nlist))
  out = np.zeros((nlist, p), np.int64)
  for l in range(nlist):
    others = [int(j) for j in found[l] if j != l and j >= 0][:p - 1]
    out[l] = [l] + others
  return out


def exact_scores(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
  """Inner products of each query with its candidates: float64 products summed in order, float32.

  Args:
    queries: float32 [b, d].
    candidates: float32 [b, w, d]: query i's candidates.

  Returns:
    float32 [b, w].
  """
  products = candidates.astype(np.float64) * queries.astype(np.float64)[:, None, :]
  return products.sum(axis=2).astype(np.float32)


def join_list(lists: IvfLists, list_no: int, k: int) -> ListNeighbours:
  """The top k of every member of one list among its pool (the members of its probed lists).

  Args:
    lists: the index's `IvfLists`.
    list_no: the list.
    k: neighbours per member.

  Returns:
    The list's `ListNeighbours`.
  """
  start, stop = int(lists.offsets[list_no]), int(lists.offsets[list_no + 1])
  pool = np.concatenate([np.arange(lists.offsets[p], lists.offsets[p + 1])
                         for p in lists.probes[list_no]])  # positions; own list first
  pool_vectors = lists.vectors[pool]
  pool_rows = lists.rows[pool]
  m = stop - start
  neighbours = np.zeros((m, k), np.int64)
  scores = np.zeros((m, k), np.float32)
  counts = np.zeros(m, np.int64)
  slack = 2 * score_slack(lists.vectors.shape[1])
  for b in range(0, m, QUERY_BLOCK):
    members = np.arange(b, min(m, b + QUERY_BLOCK))  # = their columns in the pool
    cols = _candidate_columns(pool_vectors[members], pool_vectors, members, m, k, slack)
    cand_rows = np.where(cols >= 0, pool_rows[np.maximum(cols, 0)], len(lists.rows))
    exact = exact_scores(pool_vectors[members], pool_vectors[np.maximum(cols, 0)])
    exact[cols < 0] = -np.inf
    order = np.lexsort((cand_rows, -exact), axis=1)[:, :k]
    found = np.take_along_axis(exact, order, axis=1)
    width = found.shape[1]
    neighbours[members, :width] = np.take_along_axis(cand_rows, order, axis=1)
    scores[members, :width] = found
    counts[members] = np.isfinite(found).sum(axis=1)
  valid = np.arange(k)[None, :] < counts[:, None]
  neighbours[~valid] = 0
  scores[~valid] = 0
  return ListNeighbours(lists.rows[start:stop], neighbours, scores, counts)


def _candidate_columns(queries, pool_vectors, self_cols, own: int, k: int, slack: float):
  """Pool columns whose BLAS score is within `slack` of the query's k-th best, padded with -1.

  The own list (the first `own` columns) is scored first and its k-th best
  (or -inf) starts the threshold; then the rest of the pool in chunks, each
  adding its columns at or above the running threshold and raising it.

  Returns:
    int64 [b, w]: per query the kept columns (never its own), -1 past the last.
  """
  b = queries.shape[0]
  kept_scores = np.full((b, 0), -np.inf, np.float32)
  kept_cols = np.zeros((b, 0), np.int64)
  bounds = [0, own] + list(range(own + POOL_CHUNK, pool_vectors.shape[0], POOL_CHUNK))
  bounds = sorted(set(bounds + [pool_vectors.shape[0]]))
  for lo, hi in zip(bounds[:-1], bounds[1:]):
    chunk = queries @ pool_vectors[lo:hi].T
    hit = (self_cols >= lo) & (self_cols < hi)
    chunk[np.nonzero(hit)[0], self_cols[hit] - lo] = -np.inf
    r, c = np.nonzero(chunk >= _threshold(kept_scores, k, slack)[:, None])
    kept_scores, kept_cols = _merge(kept_scores, kept_cols, r, chunk[r, c], c + lo)
    if kept_scores.shape[1] > k:
      r, c = np.nonzero(kept_scores >= _threshold(kept_scores, k, slack)[:, None])
      kept_scores, kept_cols = _merge(np.full((b, 0), -np.inf, np.float32),
                                      np.zeros((b, 0), np.int64), r, kept_scores[r, c],
                                      kept_cols[r, c])
  return np.where(np.isfinite(kept_scores), kept_cols, -1)


def _threshold(scores: np.ndarray, k: int, slack: float) -> np.ndarray:
  """Per row, its k-th largest score less slack; the lowest finite float32 below k finite scores.

  Never -inf, so a `scores >= threshold` test never admits an -inf entry.
  """
  lowest = np.finfo(np.float32).min
  if scores.shape[1] < k:
    return np.full(scores.shape[0], lowest, np.float32)
  kth = -np.partition(-scores, k - 1, axis=1)[:, k - 1]
  return np.maximum(kth - np.float32(slack), lowest)


def _merge(scores, cols, r, new_scores, new_cols):
  """(scores, cols) [b, w] with the entries (r, new) appended to their rows, padded with -inf."""
  b = scores.shape[0]
  have = np.isfinite(scores).sum(axis=1)
  added = np.bincount(r, minlength=b)
  width = int((have + added).max()) if b else 0
  out_scores = np.full((b, width), -np.inf, np.float32)
  out_cols = np.full((b, width), -1, np.int64)
  hr, hc = np.nonzero(np.isfinite(scores))
  out_scores[hr, hc] = scores[hr, hc]  # finite entries come first in every row
  out_cols[hr, hc] = cols[hr, hc]
  slot = have[r] + np.arange(len(r)) - np.repeat(np.cumsum(added) - added, added)
  out_scores[r, slot] = new_scores
  out_cols[r, slot] = new_cols
  return out_scores, out_cols
