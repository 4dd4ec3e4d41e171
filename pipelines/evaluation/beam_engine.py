"""`gcml evaluate --engine=beam`: cold-start retrieval metrics as a Beam pipeline.

The same queries, database, ranking and metrics as the in-memory engine
(`retrieval.py`, `model/metrics.py`), for test sets that one machine cannot
score in reasonable time:

1. Inputs (`beam_inputs.py`): test items' embeddings and baseline vectors,
   test-test edges. An item takes part when it has both vectors.
2. Relation: the test-test edges between taking-part items, both ways,
   grouped per item: (query, related items). The queries are the items with
   a related item and the database is the union of their related items, so
   the two are the same set.
3. `--search=exact`: the database, broadcast exactly: its ids (sorted) and
   float32 vectors of both models, one singleton side input
   (Q x (d_emb + d_raw) x 4 bytes per worker), L2-normalised in float64 once
   per worker. Each query goes to block `position // --query_block`, the
   same blocks the in-memory engine scores (so every matrix product has the
   same operands and the same shape), and per block the per-query AP@k,
   whole-list AP and NDCG@k (`metrics.block_query_metrics`).
4. `--search=ivfflat|ivfpq` (`ann_retrieval_beam.AnnRetrieval`): only each
   model's IVF index is broadcast (built sharded, the in-memory engine's
   bytes); each query's candidates from it are re-ranked by exact cosine
   with the vectors fetched by joins, not from a broadcast database.
5. Exact combine: `metrics.RetrievalTotals` sums each value as an exact
   fraction (CombinePerKey per model), so the means are the in-memory
   engine's, bit for bit, for any number of workers.

The result (with the split counts and any input problem) is written as one
JSON file in `--output_dir`, which the driver reads back, checks, and turns
into the usual metrics.json, metrics.md and charts; problems (a record that
is not an embedding, two embedding sizes, an id found twice) are one-line
errors, as in memory. Annotation (`--labels_from`) is in memory only.
"""

from __future__ import annotations

import json
import logging

import apache_beam as beam
import numpy as np
import scipy.sparse
from apache_beam.io.filesystems import FileSystems

from model import metrics
from pipelines.io import sharded_io
from pipelines.errors import InputError
from pipelines.io import stage_run
from pipelines.evaluation import ann_retrieval_beam, beam_inputs, retrieval

RESULT_NAME = ".beam-retrieval.json"


def _pairs_in_items(joined):
  """(a, {item: [..], ends: [b..]}) -> (b, a) for each edge whose end a takes part."""
  a, groups = joined
  if list(groups["item"]):
    for b in groups["ends"]:
      yield b, a


def _both_ways(joined):
  """(b, {item: [..], ends: [a..]}) -> (a, b) and (b, a) when b takes part too."""
  b, groups = joined
  if list(groups["item"]):
    for a in groups["ends"]:
      yield a, b
      yield b, a


def _database(rows) -> dict:
  """[(id, emb, raw)] -> the broadcast database: sorted ids and float32 matrices."""
  rows = sorted(rows, key=lambda r: r[0])
  return {"ids": tuple(r[0] for r in rows),
          "embeddings": np.stack([r[1] for r in rows]) if rows else None,
          "raw_features": np.stack([r[2] for r in rows]) if rows else None}


class _ScoreBlock(beam.DoFn):
  """(block, [(query, related, vectors)]) -> (model, per-query metrics), both models (exact)."""

  def __init__(self, ndcg_k: int, map_k: int):
    self._ks = (ndcg_k, map_k)
    self._key, self._db = None, None

  def process(self, block, database):
    if self._key != id(database):
      self._key = id(database)
      position = {item_id: j for j, item_id in enumerate(database["ids"])}
      self._db = (position, {m: metrics.normalize_rows(database[m]) for m in retrieval.MODELS})
    position, per_model = self._db
    members = sorted(block[1], key=lambda qr: position[qr[0]])
    rows = [position[q] for q, _, _ in members]
    shape = (len(rows), len(position))
    related = [[position[n] for n in r] for _, r, _ in members]
    relevance = scipy.sparse.csr_matrix(
        (np.ones(sum(map(len, related)), bool),
         (np.repeat(np.arange(len(rows)), [len(r) for r in related]),
          np.array([c for r in related for c in r], np.int64))), shape=shape)
    exclude = scipy.sparse.csr_matrix(
        (np.ones(len(rows), bool), (np.arange(len(rows)), rows)), shape=shape)
    for model in retrieval.MODELS:
      queries = metrics.normalize_rows(database[model][rows])
      sims = queries @ per_model[model].T
      for row in metrics.block_query_metrics(sims, relevance, exclude, *self._ks):
        yield model, row


class _TotalsFn(beam.CombineFn):
  """Per-query metric rows -> `metrics.RetrievalTotals` (exact sums)."""

  def create_accumulator(self):
    return metrics.RetrievalTotals()

  def add_input(self, mutable_accumulator, element):
    return mutable_accumulator.add(element)

  def merge_accumulators(self, accumulators):
    accumulators = iter(accumulators)
    first = next(accumulators)
    for other in accumulators:
      first.merge(other)
    return first

  def extract_output(self, accumulator):
    return accumulator


def _assemble(_, config, problems, counts, totals):
  """The JSON text the driver reads back (the database is the queries)."""
  size = counts.get("queries", 0)
  return json.dumps({
      "problems": sorted(problems), "counts": counts, "database": size,
      "retrieval": {m: totals[m].result(size, config.ndcg_k, config.map_k)
                    for m in retrieval.MODELS if m in totals}}, sort_keys=True)


def build(pipeline, config, embedding_paths, edge_paths, edge_format, feature_paths,
          result_path: str):
  """Adds the evaluation to `pipeline`; it writes its result to `result_path`.

  Args:
    pipeline: the pipeline.
    config: the evaluation's config.
    embedding_paths: embedding TFRecord files.
    edge_paths: edge files.
    edge_format: csv, tsv or tfrecord.
    feature_paths: feature TFRecord files.
    result_path: the JSON file the job writes its result to.
  """
  read = pipeline | "ReadInputs" >> beam_inputs.ReadInputs(
      embedding_paths, edge_paths, edge_format, feature_paths, config.modalities,
      config.test_fraction)
  vectors = ({"embeddings": read.embeddings, "raw_features": read.baseline}
             | "JoinVectors" >> beam.CoGroupByKey()
             | "BothVectors" >> beam.FlatMapTuple(lambda i, g: [
                 (i, (g["embeddings"][0], g["raw_features"][0]))]
                 if g["embeddings"] and g["raw_features"] else []))
  items = vectors | "ItemKeys" >> beam.Map(lambda kv: (kv[0], None))
  relation = (({"item": items, "ends": read.test_edges}
               | "JoinFirstEnd" >> beam.CoGroupByKey()
               | "FirstEndTakesPart" >> beam.FlatMap(_pairs_in_items)),
              items)
  relation = ({"ends": relation[0], "item": relation[1]}
              | "JoinSecondEnd" >> beam.CoGroupByKey()
              | "BothWays" >> beam.FlatMap(_both_ways)
              | "DistinctPairs" >> beam.Distinct()
              | "RelatedPerQuery" >> beam.GroupByKey())
  queries = ({"related": relation, "vectors": vectors}
             | "JoinQueryVectors" >> beam.CoGroupByKey()
             | "Queries" >> beam.FlatMapTuple(lambda q, g: [
                 (q, sorted(g["related"][0]), g["vectors"][0])] if g["related"] else []))
  search = config.search_settings()
  if search.exact:
    database = beam.pvalue.AsSingleton(
        queries
        | "DatabaseRows" >> beam.Map(lambda r: (r[0], r[2][0], r[2][1]))
        | "CollectDatabase" >> beam.combiners.ToList()
        | "BuildDatabase" >> beam.Map(_database))
    scored = (queries
              | "BlockOfQuery" >> beam.ParDo(ann_retrieval_beam.BlockOfQuery(config.query_block),
                                             database)
              | "GroupBlocks" >> beam.GroupByKey()
              | "ScoreBlocks" >> beam.ParDo(_ScoreBlock(config.ndcg_k, config.map_k), database))
  else:
    scored = queries | "AnnRetrieval" >> ann_retrieval_beam.AnnRetrieval(
        search, config.ndcg_k, config.map_k, config.query_block)
  totals = scored | "ExactTotals" >> beam.CombinePerKey(_TotalsFn())
  counts = ((read.counts,
             read.embeddings | "CountEmbedded" >> beam.Map(
                 lambda _: ("test_items_with_embedding", 1)),
             read.baseline | "CountFeatures" >> beam.Map(
                 lambda _: ("test_items_with_features", 1)),
             items | "CountBoth" >> beam.Map(lambda _: ("test_items_with_both", 1)),
             read.test_edges | "CountTestEdges" >> beam.Map(lambda _: ("test_test_edges", 1)),
             queries | "CountQueries" >> beam.Map(lambda _: ("queries", 1)))
            | "AllCounts" >> beam.Flatten()
            | "SumCounts" >> beam.CombinePerKey(sum))
  _ = (pipeline
       | "One" >> beam.Create([None])
       | "Assemble" >> beam.Map(_assemble, config, beam.pvalue.AsList(read.problems),
                                beam.pvalue.AsDict(counts), beam.pvalue.AsDict(totals))
       | "WriteResult" >> beam.Map(lambda text: sharded_io.atomic_write(result_path,
                                                                        text.encode())))


def run(config, embedding_paths, edge_paths, feature_paths, pipeline_args):
  """Runs the pipeline and reads its result back.

  Args:
    config: the evaluation's settings (`pipelines/evaluate.EvaluateConfig`),
      its edge format resolved (csv, tsv or tfrecord).
    embedding_paths: embedding TFRecord files.
    edge_paths: edge files.
    feature_paths: feature TFRecord files.
    pipeline_args: Beam's options.

  Returns:
    (retrieval results per model, split counts, rejected counts), or None
    for a `--dry_run=True` job graph.

  Raises:
    InputError: an input problem (one line), or no query to score.
  """
  sharded_io.ensure_dir(config.output_dir)
  result_path = FileSystems.join(config.output_dir, RESULT_NAME)
  ran = stage_run.run_engine(
      "gcml evaluate", "beam", pipeline_args,
      build=lambda pipeline: build(pipeline, config, embedding_paths, edge_paths,
                                   config.edge_format, feature_paths, result_path))
  if ran.dry_run:
    return None
  with FileSystems.open(result_path) as f:
    raw = json.loads(f.read().decode("utf-8"))
  FileSystems.delete([result_path])
  if raw["problems"]:
    raise InputError(raw["problems"][0])
  if not raw["retrieval"]:
    raise InputError(retrieval.NO_QUERIES)
  counts = raw["counts"]
  edge_rejections = {k.split("/", 1)[1]: v for k, v in counts.items()
                     if k.startswith("edges_rejected/")}
  if edge_rejections:
    logging.warning("evaluate: %d edge records rejected: %s", sum(edge_rejections.values()),
                    dict(sorted(edge_rejections.items())))
  split_counts = {name: counts.get(name, 0) for name in (
      "test_items_with_embedding", "test_items_with_features", "test_items_with_both",
      "test_test_edges", "queries")}
  split_counts["database"] = raw["database"]
  rejected = {k: v for k, v in counts.items() if k.startswith("embeddings/")}
  return ({m: raw["retrieval"][m] for m in retrieval.MODELS}, split_counts, rejected)
