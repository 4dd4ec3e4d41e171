"""The Beam transforms of `related_items` (`RelatedItems`: exact, or IVF-PQ through `related_ann`).

Kept apart so that the in-memory export imports `related_items` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam
import numpy as np

from pipelines.export import related_ann_beam
from pipelines.export.fixed_batches_beam import FixedBatches
from pipelines.export.related_ann import INDEX_KINDS
from pipelines.export.related_items import build_index, top_k_block
from pipelines.io.related_rows import MAX_INDEX_BYTES, SEARCHES, format_rows


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
    search: "exact", "ivfpq" or "ivfflat" (IVF indexes, `pipelines/export/related_ann.py`).
    ann: `related_ann.AnnParams` for an IVF search (None: defaults; its
      `kind` is set to `search`).
    rerank: IVF: candidates re-scored by exact cosine per item (0: none;
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
    if self.search in INDEX_KINDS:
      params = dataclasses.replace(self.ann or related_ann_beam.AnnParams(), kind=self.search)
      return embeddings | "Approximate" >> related_ann_beam.AnnRelatedItems(
          self.k, self.query_batch, self.max_index_bytes, params, self.rerank)
    index = (embeddings
             | "CollectIndex" >> beam.combiners.ToList()
             | "BuildIndex" >> beam.Map(build_index, self.max_index_bytes))
    return (embeddings
            | "BatchQueries" >> FixedBatches(self.query_batch)
            | "TopK" >> beam.ParDo(_TopKDoFn(self.k, self.index_chunk),
                                   index=beam.pvalue.AsSingleton(index)))
