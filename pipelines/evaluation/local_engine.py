"""`gcml evaluate`'s in-memory engine, and what several evaluations of one world share.

`score` reads the embeddings, the raw features and the test edges, and
scores retrieval (and annotation with `--labels_from`). Evaluations of
several models on the same features and edges (`gcml demo`: one per method)
pass one `SharedReads`: the features and the edges are read once, and the
raw-feature baseline, which every evaluation scores on the same items, is
scored once per set of items. Each shared value is kept under a key naming
everything it was computed from, so an evaluation that differs in any of
them computes its own, and its `metrics.json` has the same bytes as alone.
"""

from __future__ import annotations

import collections
import logging

from pipelines import split
from pipelines.evaluation import annotation, readers, retrieval
from pipelines.io import edges_local, inputs


class SharedReads:
  """Values computed once for several evaluations, each under the key of its inputs."""

  def __init__(self):
    self._values = {}

  def get(self, key: tuple, compute):
    """The value of `key`, computed by `compute()` the first time.

    Args:
      key: a hashable description of everything the value depends on.
      compute: makes the value.

    Returns:
      The value.
    """
    if key not in self._values:
      self._values[key] = compute()
    return self._values[key]


def score(config, embedding_paths, edge_paths, feature_paths,
          shared: SharedReads | None = None) -> tuple[dict, dict, dict, dict]:
  """Reads the inputs and scores them in memory.

  Args:
    config: the evaluation's settings (`stage.EvaluateConfig`).
    embedding_paths: embedding TFRecord files (contract 7).
    edge_paths: edge files (contract 1).
    feature_paths: feature TFRecord files (contract 2), for the baseline.
    shared: reads shared with other evaluations (None: this one alone).

  Returns:
    (extra sections (annotation), rejected counts, retrieval results, split counts).
  """
  with edges_local.small_pages():  # no huge-page compaction at each score block's first touch
    return _score(config, embedding_paths, edge_paths, feature_paths, shared)


def _score(config, embedding_paths, edge_paths, feature_paths, shared):
  shared = shared or SharedReads()
  fraction = config.test_fraction

  def keep(item_id):
    return split.is_test(item_id, fraction)

  every_item = bool(config.labels_from)
  read_keep = (lambda _: True) if every_item else keep
  rejected = collections.Counter()
  emb_all = readers.read_embeddings(embedding_paths, read_keep, rejected)
  if rejected:
    logging.warning("evaluate: embeddings left out: %s", dict(sorted(rejected.items())))
  features_key = ("features", tuple(feature_paths), tuple(config.modalities), fraction,
                  every_item)
  raw_all = shared.get(features_key, lambda: readers.read_baseline_features(
      feature_paths, config.modalities, read_keep))
  edges_key = ("edges", tuple(edge_paths), config.edge_format, fraction)
  test_edges = shared.get(edges_key, lambda: readers.read_test_edges(
      edge_paths, config.edge_format, keep))
  emb = {k: v for k, v in emb_all.items() if keep(k)}
  raw = raw_all if not every_item else {k: v for k, v in raw_all.items() if keep(k)}
  search = config.search_settings()
  raw_scores = shared.get(("raw_features scores", features_key, edges_key, config.ndcg_k,
                           config.map_k, config.query_block, search), dict)
  results, queries, database = retrieval.retrieval_results(
      {"embeddings": emb, "raw_features": raw}, test_edges, config.ndcg_k, config.map_k,
      config.query_block, reuse={"raw_features": raw_scores}, search=search)
  extra = {}
  if config.labels_from:
    labels = readers.read_labels(
        inputs.check_files(config.labels_from, "--labels_from", tfrecord=True))
    extra["annotation"], extra["annotation_split"] = annotation.annotation_results(
        config, emb_all, raw_all, labels)
  split_counts = {"test_items_with_embedding": len(emb), "test_items_with_features": len(raw),
                  "test_items_with_both": len(set(emb) & set(raw)),
                  "test_test_edges": len(test_edges),
                  "queries": len(queries), "database": len(database)}
  return extra, {f"embeddings/{k}": v for k, v in rejected.items()}, results, split_counts
