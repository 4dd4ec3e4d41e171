"""The Beam transforms of `related_ann` (`AnnRelatedItems`: train, encode, build, search).

ivfpq searches with faiss (`related_ann.search_block`), ivfflat with
`related_inverted.search` on each bundle of queries.

Kept apart so that the in-memory export imports `related_ann` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam
import numpy as np

from pipelines.export import related_inverted, related_rerank_beam
from pipelines.export.related_ann import (ENCODE_ROWS, AnnIndex, AnnParams, build_index,
                                          configure_faiss, sample_key, search_block, train_index)
from pipelines.io import related_rows
from pipelines.io.related_rows import unit_rows


class _EncodeDoFn(beam.DoFn):
  """Batch of (id, vector) -> (id, IVF-PQ code bytes)."""

  def setup(self):
    self._faiss = configure_faiss()
    self._key, self._index = None, None

  def process(self, batch, trained):
    if trained is None:
      return
    if self._key != id(trained):
      self._key, self._index = id(trained), self._faiss.deserialize_index(trained)
    codes = self._index.sa_encode(unit_rows(np.stack([kv[1] for kv in batch])))
    for (item_id, _), code in zip(batch, codes):
      yield item_id, code.tobytes()


class _SearchDoFn(beam.DoFn):
  """Batch of (id, vector) -> (sort_key, tsv line), as the exact path.

  With `candidates_only` it yields (id, [candidate ids]) instead, for the
  exact re-rank (`pipelines/export/related_rerank.py`).
  """

  def __init__(self, k: int, nprobe: int, candidates_only: bool = False):
    self._k = k
    self._nprobe = nprobe
    self._candidates_only = candidates_only

  def setup(self):
    self._faiss = configure_faiss()
    self._key, self._index = None, None

  def process(self, batch, ann: AnnIndex):
    if self._key != id(ann):
      self._key = id(ann)
      self._index = self._faiss.deserialize_index(ann.blob) if ann.ids else None
    ids = [kv[0] for kv in batch]
    queries = np.stack([np.asarray(kv[1], np.float32) for kv in batch])
    found = search_block(ids, queries, self._index, ann.ids, self._k, self._nprobe)
    for qid, neighbours in zip(ids, found):
      if self._candidates_only:
        yield qid, [n for n, _ in neighbours]
      else:
        yield from related_rows.format_rows(qid, neighbours)


class _InvertedSearchDoFn(beam.DoFn):
  """ivfflat: batch of (id, vector) -> (sort_key, tsv line) by `related_inverted.search`.

  The batch's rows are the exact top k over each query's probed lists, the
  local engine's rows whatever the bundle (`pipelines/export/related_inverted.py`).
  """

  def __init__(self, k: int, nprobe: int):
    self._k = k
    self._nprobe = nprobe

  def setup(self):
    self._faiss = configure_faiss()
    self._key, self._lists, self._position = None, None, {}

  def process(self, batch, ann: AnnIndex):
    if self._key != id(ann):
      self._key = id(ann)
      self._lists = related_inverted.from_faiss(
          self._faiss.deserialize_index(ann.blob), self._nprobe) if ann.ids else None
      self._position = {item_id: row for row, item_id in enumerate(ann.ids)}
    if self._lists is None:
      return
    ids = [kv[0] for kv in batch]
    queries = unit_rows(np.stack([np.asarray(kv[1], np.float32) for kv in batch]))
    self_rows = np.array([self._position.get(i, -1) for i in ids], np.int64)
    with related_inverted.one_blas_thread():
      rows, scores, counts = related_inverted.search(self._lists, queries, self_rows, self._k)
    for q, qid in enumerate(ids):
      found = zip(rows[q, :counts[q]].tolist(), scores[q, :counts[q]].tolist())
      yield from related_rows.format_rows(qid, [(ann.ids[r], s) for r, s in found])


# ivfflat: queries per `related_inverted.search` call (fewer at a bundle's end).
# Each call walks every list its queries probe, so it pays that walk per call:
# on a 20k world the search took 4.1 CPU-s in calls of 256 queries and 1.1 in
# calls of 8,192. Rows do not depend on the batch, so any size gives the same
# bytes; BatchElements' adaptive sizing kept calls near 100 queries.
INVERTED_QUERY_BATCH = 4096


@dataclasses.dataclass
class AnnRelatedItems(beam.PTransform):
  """(id, embedding) -> (sort_key, tsv line) through a broadcast IVF-PQ index.

  Attributes:
    k: neighbours per item.
    query_batch: queries per faiss search call.
    max_index_bytes: cap on the serialised index plus ids broadcast to workers.
    params: the IVF-PQ settings.
    rerank: 0: the index's top k as they come; R > 0: the index's top
      max(R, k) re-scored by exact cosine, the k best kept
      (`pipelines/export/related_rerank.py`).
  """
  k: int = 60
  query_batch: int = 256
  max_index_bytes: int = related_rows.MAX_INDEX_BYTES
  params: AnnParams = AnnParams()
  rerank: int = 0

  def __post_init__(self):
    super().__init__()
    if self.params.kind == "ivfflat" and self.rerank:
      raise ValueError("ivfflat rows are exact over the probed lists: no re-rank")

  def expand(self, embeddings):
    count = embeddings | "CountItems" >> beam.combiners.Count.Globally()
    trained = (embeddings
               | "TrainSample" >> beam.combiners.Top.Of(
                   self.params.train_size, key=lambda kv: sample_key(kv[0]), reverse=True)
               | "Train" >> beam.Map(train_index, beam.pvalue.AsSingleton(count), self.params))
    trained_side = beam.pvalue.AsSingleton(trained)
    index = (embeddings
             | "BatchEncode" >> beam.BatchElements(min_batch_size=1, max_batch_size=ENCODE_ROWS)
             | "Encode" >> beam.ParDo(_EncodeDoFn(), trained=trained_side)
             | "CollectCodes" >> beam.combiners.ToList()
             | "BuildIndex" >> beam.Map(build_index, trained_side, self.max_index_bytes))
    if self.params.kind == "ivfflat":
      batches = embeddings | "BatchQueries" >> beam.BatchElements(
          min_batch_size=INVERTED_QUERY_BATCH, max_batch_size=INVERTED_QUERY_BATCH)
      return batches | "TopK" >> beam.ParDo(_InvertedSearchDoFn(self.k, self.params.nprobe),
                                            ann=beam.pvalue.AsSingleton(index))
    batches = embeddings | "BatchQueries" >> beam.BatchElements(
        min_batch_size=1, max_batch_size=self.query_batch)
    if not self.rerank:
      return batches | "TopK" >> beam.ParDo(_SearchDoFn(self.k, self.params.nprobe),
                                            ann=beam.pvalue.AsSingleton(index))
    return (batches
            | "Candidates" >> beam.ParDo(
                _SearchDoFn(max(self.rerank, self.k), self.params.nprobe, candidates_only=True),
                ann=beam.pvalue.AsSingleton(index))
            | "ExactRerank" >> related_rerank_beam.ExactRerank(embeddings, self.k))
