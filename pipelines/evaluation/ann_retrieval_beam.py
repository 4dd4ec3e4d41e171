"""The Beam half of `ann_retrieval` (`AnnRetrieval`): IVF candidates, re-ranked through a join.

`gcml evaluate --engine=beam --search=ivfflat|ivfpq`. Each worker holds the
models' filled IVF indexes (one singleton side input) and nothing else of
the database; the exact vectors the re-rank needs travel by joins:

1. Index (per model, as `ann_retrieval.build_index` builds it, the same
   bytes): the training sample is the `train_size` database items of
   smallest `related_ann.sample_key` (`Top.Of`, one worker), every item is
   encoded against the trained index on the worker that holds it
   (`sa_encode`, sharded), and the codes are added in id order in one worker
   (`related_ann.build_index`). The broadcast is the sorted ids once and each
   model's serialised index.
2. Candidates (sharded blocks of `query_block` queries, `position //
   query_block` as the in-memory engine's blocks): each query's
   `candidate_width` nearest by the index, itself removed
   (`ann_retrieval.search_candidates`). A block sends one ask per candidate
   it found (candidate id, (block, position, the (model, query) pairs that
   found it)) and one head (its queries' vectors and relevant positions).
3. Fetch: the asks meet the database vectors by candidate id (CoGroupByKey)
   and each candidate's float32 vectors (of the models asked, as bytes) are
   sent on to the block; the block's head meets them by block (a second
   CoGroupByKey). A group holds one block: at most `query_block` x W
   vectors per model (W = `candidate_width`, max(k) + 1), whatever the
   number of queries that asked for a candidate.
4. Score (per block): the exact re-rank (`ann_retrieval.rank_candidates`,
   float64 unit rows) and the top-list metrics, per query the values the
   in-memory engine computes for it (each row alone, whatever its block).

Shuffled: at most Q x W x (d_emb + d_raw) x 4 bytes of candidate vectors
(less where queries of one block share candidates), and the asks. An ask per
(block, candidate) rather than per (query, candidate): where the database is
small against a block's candidates (the 20k sample: 5,713 items) far fewer
elements go through the shuffle.
"""

from __future__ import annotations

import bisect
import dataclasses

import apache_beam as beam
import numpy as np
from apache_beam.utils import shared

from model import metrics, metrics_blocks
from pipelines.evaluation import ann_retrieval
from pipelines.evaluation.retrieval import MODELS  # a query's vectors, in this order
from pipelines.export import related_ann
from pipelines.io.related_rows import unit_rows


def _train(sample, count: int, params: related_ann.AnnParams) -> dict:
  """[(id, vectors)] of the training sample -> model -> serialised trained index."""
  return {m: related_ann.train_index([(i, v[j]) for i, v in sample], count, params)
          for j, m in enumerate(MODELS)}


class _EncodeDoFn(beam.DoFn):
  """Batch of (id, vectors) -> (model, (id, code bytes)) against each trained index."""

  def setup(self):
    self._key, self._encoders = None, None

  def process(self, batch, trained):
    faiss = related_ann.configure_faiss()
    if self._key != id(trained):
      self._key = id(trained)
      self._encoders = {m: faiss.deserialize_index(t) for m, t in trained.items()
                        if t is not None}
    for j, model in enumerate(MODELS):
      if model in self._encoders:
        codes = self._encoders[model].sa_encode(unit_rows(np.stack([v[j] for _, v in batch])))
        for (item_id, _), code in zip(batch, codes):
          yield model, (item_id, code.tobytes())


def _build_index(model_codes, trained) -> tuple:
  """(model, [(id, code)]) -> (model, its filled `related_ann.AnnIndex`)."""
  model, codes = model_codes
  return model, related_ann.build_index(list(codes), trained[model], ann_retrieval.NO_INDEX_CAP)


def _broadcast(built) -> dict:
  """[(model, AnnIndex)] -> {"ids": sorted ids, "blobs": model -> serialised index}."""
  built = dict(built)
  return {"ids": next(iter(built.values())).ids if built else (),
          "blobs": {m: index.blob for m, index in built.items()}}


class BlockOfQuery(beam.DoFn):
  """(query, related ids, vectors) -> (its database position // block, the same).

  The side input is any dict whose "ids" are the database's sorted ids (the
  exact search's broadcast database, or this module's indexes): the in-memory
  engine's blocks.
  """

  def __init__(self, block: int):
    self._block = block

  def process(self, row, database):
    yield bisect.bisect_left(database["ids"], row[0]) // self._block, row


class _LoadedIndexes:
  """The broadcast's indexes, loaded once per process (`shared.Shared` keeps a weak reference).

  faiss searches one index from several threads at once safely; each thread sets
  its own OpenMP thread count (`ann_retrieval.search_candidates`).
  """

  def __init__(self, ann: dict, nprobe: int):
    faiss = related_ann.configure_faiss()
    self.by_model = {m: faiss.deserialize_index(blob) for m, blob in ann["blobs"].items()}
    for index in self.by_model.values():
      index.nprobe = min(nprobe, index.nlist)


class _SearchDoFn(beam.DoFn):
  """(block, [(query, related ids, vectors)]) -> the block's head, and its asks on the side.

  Head: (block, (N, [(query, its relevant items' positions, its float32 vectors'
  bytes)])). Asks, one per candidate the block's queries found: (candidate id,
  (block, candidate position, ((model number, query), ..) of the queries that found it)).
  """

  def __init__(self, nprobe: int, ks: tuple):
    self._nprobe = nprobe
    self._ks = ks  # (ndcg_k, map_k)
    self._shared = shared.Shared()  # one loaded copy per process, not one per thread
    self._key, self._loaded = None, None

  def process(self, block, ann):
    if self._key != id(ann):
      self._key = id(ann)  # the loaded object itself is held: `Shared` keeps a weak reference
      self._loaded = self._shared.acquire(lambda: _LoadedIndexes(ann, self._nprobe))
    ids = ann["ids"]
    n = len(ids)
    name, block = block[0], sorted(block[1], key=lambda r: r[0])
    rows = np.array([bisect.bisect_left(ids, q) for q, _, _ in block], np.int64)
    width = ann_retrieval.candidate_width(n, *self._ks)
    askers = {}
    for j, model in enumerate(MODELS):
      units = unit_rows(np.stack([v[j] for _, _, v in block]))
      labels = ann_retrieval.search_candidates(self._loaded.by_model[model], units, rows, n, width)
      for (query, _, _), row in zip(block, labels.tolist()):
        for label in row:
          if label < n:
            askers.setdefault(label, []).append((j, query))
    yield name, (n, [(query, np.sort(np.array([bisect.bisect_left(ids, r) for r in related],
                                               np.int64)),
                      tuple(v.tobytes() for v in vectors))
                     for query, related, vectors in block])
    for label in sorted(askers):
      yield beam.pvalue.TaggedOutput("asks", (ids[label], (name, label, tuple(askers[label]))))


def _send_to_blocks(joined):
  """(candidate, {vectors: [v], asks: [(block, position, askers)]}) -> per ask

  (block, (position, askers, the candidate's vectors' bytes: of the models asked, else None)).
  """
  _, groups = joined
  vectors = list(groups["vectors"])
  if not vectors:
    return
  for name, label, askers in groups["asks"]:
    asked = {j for j, _ in askers}
    yield name, (label, askers, tuple(v.tobytes() if j in asked else None
                                      for j, v in enumerate(vectors[0])))


def _score_block(joined, ndcg_k: int, map_k: int):
  """(block, {head: [(N, queries)], candidates: [..]}) -> (model, per-query metrics)."""
  _, groups = joined
  n, queries = next(iter(groups["head"]))
  found = {}  # (model number, query) -> [(position, vector bytes)]
  for label, askers, vectors in groups["candidates"]:
    for j, query in askers:
      found.setdefault((j, query), []).append((label, vectors[j]))
  for j, model in enumerate(MODELS):
    for row in _top_list_rows([(v[j], relevant, found.get((j, q), [])) for q, relevant, v
                               in queries], n, ndcg_k, map_k):
      yield model, row


def _top_list_rows(queries, n: int, ndcg_k: int, map_k: int) -> list:
  """The metric rows of one model's queries: [(vector bytes, relevant positions, candidates)].

  Candidates: (position, vector bytes) pairs, in any order.
  """
  width = ann_retrieval.candidate_width(n, ndcg_k, map_k)
  query_vectors = np.stack([np.frombuffer(v, np.float32) for v, _, _ in queries])
  labels = np.full((len(queries), width), n, np.int64)
  candidates = np.zeros((len(queries), width, query_vectors.shape[1]))
  for b, (_, _, found) in enumerate(queries):
    if found:
      found = sorted(found, key=lambda lv: lv[0])
      labels[b, :len(found)] = [label for label, _ in found]
      candidates[b, :len(found)] = metrics.normalize_rows(
          np.stack([np.frombuffer(v, np.float32) for _, v in found]))
  ranked = ann_retrieval.rank_candidates(labels, candidates,
                                         metrics.normalize_rows(query_vectors), n)
  return metrics_blocks.top_list_metrics(ranked, [r for _, r, _ in queries], n - 1, ndcg_k,
                                         map_k)


@dataclasses.dataclass
class AnnRetrieval(beam.PTransform):
  """(query, sorted related ids, (embedding, raw features)) -> (model, per-query metrics).

  The queries are the database (a relation goes both ways), as in memory.

  Attributes:
    search: the IVF index settings (`ann_retrieval.Search`, an IVF kind).
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.
    query_block: queries per search call and per scoring group (`--query_block`; the
      values do not depend on it; a group holds up to query_block x 61 candidate vectors
      of each model).
  """
  search: ann_retrieval.Search
  ndcg_k: int = 60
  map_k: int = 60
  query_block: int = 1024

  def __post_init__(self):
    super().__init__()

  def expand(self, queries):
    params = self.search.params
    database = queries | "DatabaseVectors" >> beam.Map(lambda r: (r[0], r[2]))
    count = database | "CountDatabase" >> beam.combiners.Count.Globally()
    trained = beam.pvalue.AsSingleton(
        database
        | "TrainSample" >> beam.combiners.Top.Of(
            params.train_size, key=lambda kv: related_ann.sample_key(kv[0]), reverse=True)
        | "Train" >> beam.Map(_train, beam.pvalue.AsSingleton(count), params))
    ann = beam.pvalue.AsSingleton(
        database
        | "BatchEncode" >> beam.BatchElements(min_batch_size=1,
                                              max_batch_size=related_ann.ENCODE_ROWS)
        | "Encode" >> beam.ParDo(_EncodeDoFn(), trained)
        | "CodesPerModel" >> beam.GroupByKey()
        | "BuildIndex" >> beam.Map(_build_index, trained)
        | "BothIndexes" >> beam.combiners.ToList()
        | "Broadcast" >> beam.Map(_broadcast))
    found = (queries
             | "BlockOfQuery" >> beam.ParDo(BlockOfQuery(self.query_block), ann)
             | "GroupBlocks" >> beam.GroupByKey()
             | "Search" >> beam.ParDo(_SearchDoFn(params.nprobe, (self.ndcg_k, self.map_k)),
                                      ann).with_outputs("asks", main="heads"))
    fetched = ({"vectors": database, "asks": found.asks}
               | "JoinCandidateVectors" >> beam.CoGroupByKey()
               | "SendToBlocks" >> beam.FlatMap(_send_to_blocks))
    return ({"head": found.heads, "candidates": fetched}
            | "JoinBlockCandidates" >> beam.CoGroupByKey()
            | "Score" >> beam.FlatMap(_score_block, self.ndcg_k, self.map_k))
