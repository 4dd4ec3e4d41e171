"""Approximate top-K related items: a faiss IVF index (`--search=ivfflat|ivfpq`).

The exact search (`pipelines/export/related_items.py`) scores every pair,
O(N^2 d), and broadcasts the float32 matrix, N * d * 4 bytes. This path
searches only the `nprobe` inverted lists nearest each query, in an index
of either kind (`AnnParams.kind`):

* ivfflat (`faiss.IndexIVFFlat`): the unit vectors themselves, about
  N * (4 d + 8) bytes; a candidate's score is its exact inner product
  (computed by faiss, not BLAS), so no re-rank is needed and recall is lost
  only where a true neighbour sits in a list not probed. The choice at 1M
  items (docs/export_and_evaluation.md).
* ivfpq (`faiss.IndexIVFPQ`): a compressed index, about N * (code bytes + 8)
  bytes, approximate scores, for indexes over the broadcast limit.

The steps, the same for both:

1. Train (one worker): a coarse quantizer (`nlist` k-means centroids) and,
   for ivfpq, a product quantizer (`code_bytes` sub-vectors of 2^8 centroids) on a
   deterministic sample of the unit-norm embeddings: the `train_size` ids
   with the smallest BLAKE2b hash (`sample_key`), so the sample does not
   depend on the runner, the bundling or the input order. The k-means
   assignments use BLAS (one thread; the whole sample is one call in both
   engines, so the centroids are the same bits).
2. Encode (sharded): every worker encodes its items against the trained,
   empty index (`encode`: inverted-list number + the vector's code: its
   float32 bytes for ivfflat, the PQ code of the residual for ivfpq). An
   ivfflat item's list is `assign_lists`' (BLAS scores, near ties scored
   again exactly), an ivfpq code faiss's `sa_encode` (no BLAS): a code
   never depends on the other items of its batch.
3. Build (one worker): the codes, in id order, are added to the trained
   index (`add_sa_codes`, label = row in the sorted ids), which is
   serialised; that byte string and the ids are the broadcast side input,
   capped by `max_index_bytes` (`IndexTooLargeError` above it).
4. Search (sharded query batches, as in the exact path): `nprobe` inverted
   lists per query; score = inner product of the exact unit-norm query with
   the candidate (ivfflat: its unit vector, the cosine; ivfpq: its PQ
   reconstruction, an approximate cosine); the item
   itself is dropped and the rest ordered by score, then by id.
5. Re-rank (`rerank` = R > 0, `gcml export --ann_rerank`, default 4 x K for
   ivfpq, none for ivfflat):
   the index's top max(R, K) per query are re-scored by the exact cosine of
   the full vectors and the K best kept (`pipelines/export/related_rerank.py`), so
   the PQ approximation costs recall only where a true neighbour falls
   outside the R candidates.

Determinism: faiss searches with one OpenMP thread in every worker and
never uses BLAS for a search's distances (`distance_compute_blas_threshold`),
so a query's candidates and scores do not depend on the other queries of
its batch; the k-means seeds are fixed and its one BLAS call is the same in
both engines. Output is identical across runs and worker counts on the same
CPU type (faiss picks SIMD kernels by CPU, which can change the last bits
of a score).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

from pipelines import hashing
from pipelines.io import related_rows
from pipelines.io.related_rows import unit_rows

SEED = 1234
INDEX_KINDS = ("ivfpq", "ivfflat")  # the --search values this module serves
NO_BLAS = 2**31 - 1  # faiss: queries per call above which it uses BLAS (batch-dependent sums)


class AnnIndex(NamedTuple):
  ids: tuple  # sorted item ids; the faiss label of an item is its position here
  blob: np.ndarray  # uint8: faiss.serialize_index of the filled IVF index

  def broadcast_bytes(self) -> int:
    return int(self.blob.nbytes) + sum(len(i.encode("utf-8")) for i in self.ids)


@dataclasses.dataclass(frozen=True)
class AnnParams:
  """IVF index settings.

  Attributes:
    nprobe: inverted lists scanned per query (recall vs speed).
    code_bytes: ivfpq: PQ sub-quantizers = bytes per item (0: dim / 2);
      rounded down to a divisor of the dimension.
    nlist: coarse centroids (0: min(4 * sqrt(N), train items / 39)).
    train_size: items in the training sample.
    kind: "ivfpq" or "ivfflat" (`INDEX_KINDS`).
  """
  nprobe: int = 32
  code_bytes: int = 0
  nlist: int = 0
  train_size: int = 65536
  kind: str = "ivfpq"


def configure_faiss():
  """One thread, no BLAS: per-query results independent of batch and machine load.

  Returns:
    The `faiss` module, configured.
  """
  import faiss  # pylint: disable=import-outside-toplevel
  faiss.omp_set_num_threads(1)
  faiss.cvar.distance_compute_blas_threshold = NO_BLAS
  return faiss


def sample_key(item_id: str) -> tuple:
  """Training-sample order: the smallest keys are the sample.

  Args:
    item_id: the item's id.

  Returns:
    (hash, id): the key the training sample is ordered by.
  """
  return hashing.blake2b64(b"gcml-ann-train:" + item_id.encode("utf-8")), item_id


def _sub_quantizers(dim: int, code_bytes: int) -> int:
  want = max(1, min(dim, code_bytes or max(1, dim // 2)))
  return max(m for m in range(1, want + 1) if dim % m == 0)


def train_index(sample, count: int, params: AnnParams):
  """A trained, empty IVF index of `params.kind` (serialised, uint8) from (id, vector) pairs.

  Args:
    sample: (id, vector) pairs of the training sample.
    count: items in the whole index.
    params: the IVF-PQ settings.

  Returns:
    The trained index, serialised.
  """
  if not sample:
    return None
  faiss = configure_faiss()
  sample = sorted(sample, key=lambda kv: kv[0])
  x = unit_rows(np.stack([np.asarray(v, np.float32) for _, v in sample]))
  n, dim = x.shape
  nlist = params.nlist or max(1, min(int(4 * math.sqrt(count)), n // 39))
  nlist = min(nlist, n)
  if params.kind == "ivfflat":
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = SEED
    _train_with_blas(faiss, index, x)
    return faiss.serialize_index(index)
  nbits = 8 if n >= 39 * 256 else max(1, min(8, int(math.log2(max(2, n // 39)))))
  index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist,
                           _sub_quantizers(dim, params.code_bytes), nbits,
                           faiss.METRIC_INNER_PRODUCT)
  index.cp.seed = SEED
  index.pq.cp.seed = SEED
  _train_with_blas(faiss, index, x)
  return faiss.serialize_index(index)


def score_slack(dim: int) -> float:
  """A bound on |BLAS float32 inner product - `exact_scores`| of two vectors of norm <= 1.

  A float32 dot product of length d, in any summation order, with or
  without fused multiply-adds, is within d u / (1 - d u) of the exact value
  (u = 2^-24); `exact_scores` is within u. Doubled for margin.

  Args:
    dim: the vectors' dimension.

  Returns:
    The bound.
  """
  return 2.0 * (dim + 2) * 2.0 ** -24


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


def assign_lists(centroids: np.ndarray, units: np.ndarray) -> np.ndarray:
  """Each vector's inverted list: the centroid of the highest `exact_scores` inner product.

  BLAS scores every centroid (about 15x faster than faiss's scan, which
  `sa_encode` uses with BLAS off); the centroids within twice the slack
  (`score_slack`, scaled by the largest centroid norm) of a row's best BLAS
  score are scored again exactly and the best kept (ties: the lowest list).
  So a vector's list depends on it and the centroids alone, not on the
  other vectors of its batch, the BLAS or its threads.

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
  order = np.lexsort((c, -exact, r))  # per row: the best exact score, then the lowest list
  first = np.ones(len(r), bool)
  first[1:] = r[order][1:] != r[order][:-1]
  return c[order][first].astype(np.int64)


def encode(index, units: np.ndarray) -> np.ndarray:
  """The codes `build_index` takes: `sa_encode`'s layout, each row's alone.

  IVF-Flat: the list number (`coarse_code_size` bytes, little-endian) of
  `assign_lists` (BLAS, exact near ties: the same list whatever the batch),
  then the vector's float32 bytes. IVF-PQ: faiss's `sa_encode` (one
  thread, no BLAS).

  Args:
    index: the trained, empty index (deserialised).
    units: float32 [n, d]: unit-norm vectors.

  Returns:
    uint8 [n, code size].
  """
  if "PQ" in type(index).__name__:
    return index.sa_encode(units)
  nlist = int(index.nlist)
  lists = assign_lists(index.quantizer.reconstruct_n(0, nlist), units)
  width = int(index.coarse_code_size())
  list_bytes = lists.astype("<u8").view(np.uint8).reshape(len(units), 8)[:, :width]
  return np.concatenate([list_bytes, np.ascontiguousarray(units, np.float32).view(np.uint8)
                         .reshape(len(units), -1)], axis=1)


def _train_with_blas(faiss, index, x: np.ndarray):
  """`index.train(x)`, its k-means assignments by BLAS (one thread; then BLAS is off again).

  The whole sample is one call in both engines, so the centroids are the
  same bits in both; BLAS makes the k-means about 10x faster than faiss's
  one-query-at-a-time scan.
  """
  faiss.cvar.distance_compute_blas_threshold = 20  # faiss's default
  try:
    index.train(x)
  finally:
    faiss.cvar.distance_compute_blas_threshold = NO_BLAS


def build_index(codes, trained, max_bytes: int = related_rows.MAX_INDEX_BYTES):
  """The filled, serialised index from (id, code) pairs; checks the broadcast cap.

  Args:
    codes: (id, vector) pairs of every item.
    trained: the serialised trained index.
    max_bytes: the cap on the filled index's size.

  Returns:
    The filled `AnnIndex` (its ids and serialised bytes).
  """
  if trained is None or not codes:
    return AnnIndex((), np.zeros(0, np.uint8))
  faiss = configure_faiss()
  codes = sorted(codes, key=lambda kv: kv[0])
  index = faiss.deserialize_index(trained)
  matrix = np.frombuffer(b"".join(c for _, c in codes), np.uint8).reshape(len(codes), -1)
  index.add_sa_codes(matrix, np.arange(len(codes), dtype=np.int64))
  result = AnnIndex(tuple(k for k, _ in codes), faiss.serialize_index(index))
  size = result.broadcast_bytes()
  if size > max_bytes:
    raise related_rows.IndexTooLargeError(
        f"the {'IVF-PQ' if 'PQ' in type(index).__name__ else 'IVF-Flat'} related-items "
        f"index is {size} bytes ({len(codes)} items, "
        f"{matrix.shape[1]}-byte codes), over the broadcast limit of {max_bytes} bytes "
        "(--max_index_bytes); use --search=ivfpq, lower --ann_code_bytes or raise the limit "
        "(docs/export_and_evaluation.md)")
  return result


def search_block(query_ids, queries, index, ids: tuple, k: int, nprobe: int):
  """Approximate top-k (neighbor_id, score) per query, best first, never itself.

  Args:
    query_ids: the block's ids.
    queries: their vectors.
    index: the filled index.
    ids: the index's ids, in index order.
    k: neighbours per query.
    nprobe: inverted lists searched per query.

  Returns:
    Per query, its (neighbor_id, score) pairs.
  """
  if not ids:
    return [[] for _ in query_ids]
  position = {item_id: row for row, item_id in enumerate(ids)}
  index.nprobe = min(nprobe, index.nlist)
  scores, rows = index.search(unit_rows(queries), min(k + 1, len(ids)))
  results = []
  for qid, score_row, label_row in zip(query_ids, scores, rows):
    self_row = position.get(qid, -1)
    keep = (label_row >= 0) & (label_row != self_row)
    order = np.lexsort((label_row[keep], -score_row[keep]))[:k]
    results.append([(ids[j], float(s))
                    for j, s in zip(label_row[keep][order], score_row[keep][order])])
  return results
