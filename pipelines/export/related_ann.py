"""Approximate top-K related items: a faiss IVF index (`--search=ivfflat|ivfpq`).

The exact search (`pipelines/export/related_items.py`) scores every pair,
O(N^2 d), and broadcasts the float32 matrix, N * d * 4 bytes. This path
searches only the `nprobe` inverted lists nearest each query, in an index
of either kind (`AnnParams.kind`):

* ivfflat (`faiss.IndexIVFFlat`): the unit vectors themselves, about
  N * (4 d + 8) bytes; searched by probed list (`related_inverted.py`, not
  `search_block`): a row is the exact top K over the probed lists, so no
  re-rank is needed and recall is lost only where a true neighbour sits in
  a list not probed. The choice at 1M items (docs/export_and_evaluation.md).
* ivfpq (`faiss.IndexIVFPQ`): a compressed index, about N * (code bytes + 8)
  bytes, approximate scores, for indexes over the broadcast limit.

The steps, the same for both:

1. Train (one worker): a coarse quantizer (`nlist` k-means centroids) and,
   for ivfpq, a product quantizer (`code_bytes` sub-vectors of 2^8 centroids) on a
   deterministic sample of the unit-norm embeddings: the `train_size` ids
   with the smallest BLAKE2b hash (`sample_key`), so the sample does not
   depend on the runner, the bundling or the input order.
2. Encode (sharded): every worker encodes its items against the trained,
   empty index (`sa_encode`: inverted-list number + the vector's code: its
   float32 bytes for ivfflat, the PQ code of the residual for ivfpq).
3. Build (one worker): the codes, in id order, are added to the trained
   index (`add_sa_codes`, label = row in the sorted ids), which is
   serialised; that byte string and the ids are the broadcast side input,
   capped by `max_index_bytes` (`IndexTooLargeError` above it).
4. Search (sharded query batches, as in the exact path; ivfpq here, ivfflat
   in `related_inverted.py`): `nprobe` inverted lists per query; score = inner product of the exact unit-norm query with
   the candidate (ivfflat: its unit vector, the cosine; ivfpq: its PQ
   reconstruction, an approximate cosine); the item
   itself is dropped and the rest ordered by score, then by id.
5. Re-rank (`rerank` = R > 0, `gcml export --ann_rerank`, default 4 x K for
   ivfpq, none for ivfflat):
   the index's top max(R, K) per query are re-scored by the exact cosine of
   the full vectors and the K best kept (`pipelines/export/related_rerank.py`), so
   the PQ approximation costs recall only where a true neighbour falls
   outside the R candidates.

Determinism: faiss runs with one OpenMP thread in every worker and never
uses BLAS for distances (`distance_compute_blas_threshold`), so a query's
candidates and scores do not depend on the other queries of its batch; the
k-means seeds are fixed. Output is identical across runs and worker counts
on the same CPU type (faiss picks SIMD kernels by CPU, which can change the
last bits of a score).
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
ENCODE_ROWS = 1024  # rows per sa_encode call in `filled_index`
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
    index.train(x)
    return faiss.serialize_index(index)
  nbits = 8 if n >= 39 * 256 else max(1, min(8, int(math.log2(max(2, n // 39)))))
  index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, nlist,
                           _sub_quantizers(dim, params.code_bytes), nbits,
                           faiss.METRIC_INNER_PRODUCT)
  index.cp.seed = SEED
  index.pq.cp.seed = SEED
  index.train(x)
  return faiss.serialize_index(index)


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


def filled_index(ids, matrix: np.ndarray, params: AnnParams,
                 max_bytes: int = related_rows.MAX_INDEX_BYTES) -> AnnIndex:
  """The three steps in one process: train on the id-hash sample, encode, build.

  The same index as the Beam transforms build from the same items
  (`related_ann_beam.AnnRelatedItems`): the sample is the `train_size`
  smallest `sample_key`s, every row is encoded as `unit_rows` encodes it
  alone, `ENCODE_ROWS` rows per `sa_encode` call.

  Args:
    ids: the item ids, sorted (label = position).
    matrix: float32 [N, d], row i the vector of ids[i].
    params: the index settings.
    max_bytes: the cap on the filled index's size (`build_index`).

  Returns:
    The filled `AnnIndex` (empty without items).
  """
  ids = tuple(ids)
  matrix = np.asarray(matrix, np.float32)
  order = sorted(range(len(ids)), key=lambda r: sample_key(ids[r]))
  sample = [(ids[r], matrix[r]) for r in order[:params.train_size]]
  trained = train_index(sample, len(ids), params)
  if trained is None:
    return AnnIndex((), np.zeros(0, np.uint8))
  encoder = configure_faiss().deserialize_index(trained)
  units = unit_rows(matrix)  # row-wise: each row's bits as unit_rows of that row alone
  codes = []
  for start in range(0, len(ids), ENCODE_ROWS):
    codes += [c.tobytes() for c in encoder.sa_encode(units[start:start + ENCODE_ROWS])]
  return build_index(list(zip(ids, codes)), trained, max_bytes)


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
