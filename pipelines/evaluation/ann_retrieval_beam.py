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
2. Candidates (sharded query batches): each query's `candidate_width` nearest
   by the index, itself removed (`ann_retrieval.search_candidates`); a query
   sends (candidate id, (model number, query, position)) asks, and a head
   ((model number, query), (its vector, its relevant positions, N)).
3. Fetch: the asks meet the database vectors by candidate id (CoGroupByKey)
   and each candidate's float32 vector is sent on to its askers
   ((model number, query), (position, vector)); the heads meet them by key.
   Vectors travel as their float32 bytes (cheaper to encode than arrays).
   A group holds one query and at most `candidate_width` vectors, whatever
   the number of queries that asked for a candidate.
4. Score (sharded batches of queries): the exact re-rank
   (`ann_retrieval.rank_candidates`, float64 unit rows) and the top-list
   metrics, per query the values the in-memory engine computes for it.

Shuffled: Q x W x (d_emb + d_raw) x 4 bytes of candidate vectors (W =
max(k) + 1), and the asks.
"""

from __future__ import annotations

import bisect
import dataclasses

import apache_beam as beam
import numpy as np

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


class _SearchDoFn(beam.DoFn):
  """Batch of (query, related ids, vectors) -> heads, and asks on the side.

  Per query and model: a head ((model number, query), (its float32 vector's bytes, its
  relevant items' positions, N)) and an ask (candidate id, (model number, query,
  candidate position)) per candidate.
  """

  def __init__(self, nprobe: int, ks: tuple):
    self._nprobe = nprobe
    self._ks = ks  # (ndcg_k, map_k)
    self._key, self._indexes = None, None

  def process(self, batch, ann):
    faiss = related_ann.configure_faiss()
    if self._key != id(ann):
      self._key = id(ann)
      self._indexes = {m: faiss.deserialize_index(blob) for m, blob in ann["blobs"].items()}
      for index in self._indexes.values():
        index.nprobe = min(self._nprobe, index.nlist)
    ids = ann["ids"]
    n = len(ids)
    rows = np.array([bisect.bisect_left(ids, q) for q, _, _ in batch], np.int64)
    related = [np.sort(np.array([bisect.bisect_left(ids, r) for r in rel], np.int64))
               for _, rel, _ in batch]
    width = ann_retrieval.candidate_width(n, *self._ks)
    for j, model in enumerate(MODELS):
      vectors = [v[j] for _, _, v in batch]
      labels = ann_retrieval.search_candidates(self._indexes[model], unit_rows(np.stack(vectors)),
                                               rows, n, width)
      for (query, _, _), vector, relevant, row in zip(batch, vectors, related, labels.tolist()):
        yield (j, query), (vector.tobytes(), relevant, n)
        for label in row:
          if label < n:
            yield beam.pvalue.TaggedOutput("asks", (ids[label], (j, query, label)))


def _send_to_askers(joined):
  """(candidate, {vectors: [v], asks: [(model number, query, position)]}) -> per ask

  ((model number, query), (position, the candidate's vector of that model, as bytes)).
  """
  _, groups = joined
  vectors = list(groups["vectors"])
  if not vectors:
    return
  for j, query, label in groups["asks"]:
    yield (j, query), (label, vectors[0][j].tobytes())


class _ScoreDoFn(beam.DoFn):
  """Batch of ((model number, query), {head, candidates}) -> (model, per-query metrics)."""

  def __init__(self, ndcg_k: int, map_k: int):
    self._ks = (ndcg_k, map_k)

  def process(self, batch):
    by_model = {}
    for (j, _), groups in batch:
      by_model.setdefault(j, []).append(groups)
    for j in sorted(by_model):
      for row in _top_list_rows(by_model[j], *self._ks):
        yield MODELS[j], row


def _top_list_rows(queries, ndcg_k: int, map_k: int) -> list:
  """The metric rows of one model's queries: [{head: [..], candidates: [(position, v)]}]."""
  heads = [next(iter(g["head"])) for g in queries]
  n = heads[0][2]
  width = ann_retrieval.candidate_width(n, ndcg_k, map_k)
  query_vectors = np.stack([np.frombuffer(h[0], np.float32) for h in heads])
  dim = query_vectors.shape[1]
  labels = np.full((len(queries), width), n, np.int64)
  candidates = np.zeros((len(queries), width, dim))
  for b, groups in enumerate(queries):
    found = sorted(groups["candidates"], key=lambda lv: lv[0])
    if found:
      labels[b, :len(found)] = [label for label, _ in found]
      candidates[b, :len(found)] = metrics.normalize_rows(
          np.stack([np.frombuffer(v, np.float32) for _, v in found]))
  ranked = ann_retrieval.rank_candidates(labels, candidates,
                                         metrics.normalize_rows(query_vectors), n)
  return metrics_blocks.top_list_metrics(ranked, [h[1] for h in heads], n - 1, ndcg_k, map_k)


@dataclasses.dataclass
class AnnRetrieval(beam.PTransform):
  """(query, sorted related ids, (embedding, raw features)) -> (model, per-query metrics).

  The queries are the database (a relation goes both ways), as in memory.

  Attributes:
    search: the IVF index settings (`ann_retrieval.Search`, an IVF kind).
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.
    query_batch: queries per search and per score call (the values do not depend on it).
  """
  search: ann_retrieval.Search
  ndcg_k: int = 60
  map_k: int = 60
  query_batch: int = 1024

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
                                              max_batch_size=ann_retrieval.ENCODE_ROWS)
        | "Encode" >> beam.ParDo(_EncodeDoFn(), trained)
        | "CodesPerModel" >> beam.GroupByKey()
        | "BuildIndex" >> beam.Map(_build_index, trained)
        | "BothIndexes" >> beam.combiners.ToList()
        | "Broadcast" >> beam.Map(_broadcast))
    found = (queries
             | "BatchQueries" >> beam.BatchElements(min_batch_size=1,
                                                    max_batch_size=self.query_batch)
             | "Search" >> beam.ParDo(_SearchDoFn(params.nprobe, (self.ndcg_k, self.map_k)),
                                      ann).with_outputs("asks", main="heads"))
    fetched = ({"vectors": database, "asks": found.asks}
               | "JoinCandidateVectors" >> beam.CoGroupByKey()
               | "SendToAskers" >> beam.FlatMap(_send_to_askers))
    return ({"head": found.heads, "candidates": fetched}
            | "JoinQueryCandidates" >> beam.CoGroupByKey()
            | "BatchScores" >> beam.BatchElements(min_batch_size=1,
                                                  max_batch_size=self.query_batch)
            | "Score" >> beam.ParDo(_ScoreDoFn(self.ndcg_k, self.map_k)))
