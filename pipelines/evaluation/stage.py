"""`gcml evaluate`: cold-start retrieval metrics of embeddings and raw features.

Retrieval on the cold-start split (DESIGN.md "Metrics"; the GCML paper,
section 4): only test items (`pipelines/split.is_test`, 30 % of the ids)
take part. Queries are the test items with at least one related test item
(an edge of the graph between two test items); the database is the union of
the queries' related test items; candidates are ranked by cosine similarity
(the query itself is never a candidate); relevance is an edge. MAP@60 (the
paper's AP summed over the top 60, the headline), NDCG@60 and the whole-list
MAP (`map_full_list`, for reference only) follow `model/metrics.py`.

Two models are always scored on the same queries and database:

* `embeddings`: the learned embeddings (contract 7, `--embeddings`);
* `raw_features`: the content-feature baseline (`--features`): each
  modality L2-normalised, then concatenated.

Items must have both an embedding and valid features to take part (so both
models see the same items); items missing either are counted.

The evaluation runs in memory on one machine: it streams the edge and
feature files and keeps only test items and test-test edges, so memory is
O(test items x dim + test-test edges), and it scores queries in blocks of
`--query_block` against the database (O(block x database) memory).
`--engine=beam` runs the retrieval part as a Beam pipeline instead (queries
sharded over workers, the database broadcast exactly; any Beam runner,
Dataflow included): the same numbers, bit for bit
(`pipelines/evaluation/beam_engine.py`).

Outputs in `--output_dir`: `metrics.json`, `metrics.md` (a markdown table)
and one PNG bar chart per metric (`map_at_60.png`, `ndcg_at_60.png`).

Annotation (`--labels_from=FEATURES_GLOB`, records with `id` and `labels`):
the papers' model (`model/annotation.py`: a 4096-unit layer, then a mixture
of 5 experts) is trained on the train items and scored on the held-out
cold-start test items, for three inputs: `embeddings`, `raw_features` and
`embeddings+raw_features` (concatenated); metrics GAP@20, macro MAP, Hit@1
and Hit@5 (`model/metrics.py`). The class vocabulary is every label seen.
This part holds all items (not only test items) in memory. Each annotation
metric also gets a chart (`annotation_gap_at_20.png`, ...).

Training summaries (`--model_dir=[NAME=]DIR`, repeated or comma-separated):
the trainer's TensorBoard scalars (`pipelines/evaluation/training_summaries.py`) give
`usage_ratio.png` (the GCML paper's Figure 5), `training_curves.png` (loss
and learning rate) and the margin table (the paper's Table 3) in
`metrics.md` and `metrics.json` (section `training`).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import logging

from pipelines.io import edges as edges_lib
from pipelines.io import features as features_lib
from pipelines.io import inputs, modalities, sharded_io
from pipelines import split
from pipelines.errors import InputError
from pipelines.evaluation import annotation, readers, report, retrieval, training_summaries


@dataclasses.dataclass
class EvaluateConfig:
  embeddings: str
  edges: str
  features: str
  output_dir: str
  edge_format: str = "auto"
  modalities: tuple = features_lib.DEFAULT_MODALITIES
  test_fraction: float = split.TEST_FRACTION
  ndcg_k: int = 60
  map_k: int = 60
  query_block: int = 1024
  labels_from: str | None = None
  annotation: "object" = None  # model.annotation.AnnotationConfig when labels_from is set
  model_dirs: dict = dataclasses.field(default_factory=dict)  # run name -> gcml train dir
  engine: str = "local"  # local: in memory; beam: retrieval as a Beam pipeline
  pipeline_args: tuple = ()  # Beam's options (--engine=beam)


def evaluate(config: EvaluateConfig, embedding_paths, edge_paths, feature_paths) -> dict:
  """Reads the inputs and scores retrieval (and annotation with `labels_from`).

  `config.engine` "local" runs in memory; "beam" runs the retrieval as a
  Beam pipeline (`pipelines/evaluation/beam_engine.py`), same numbers.

  Args:
    config: the evaluation's settings.
    embedding_paths: embedding TFRecord files (contract 7).
    edge_paths: edge files (contract 1).
    feature_paths: feature TFRecord files (contract 2), for the baseline.

  Returns:
    The metrics.json dictionary (without the `training` section); None for
    a `--engine=beam --dry_run=True` job graph.
  """
  edge_format = edges_lib.edge_format_of(config.edges, config.edge_format)
  if config.engine == "beam":
    from pipelines.evaluation import beam_engine  # pylint: disable=import-outside-toplevel
    scored = beam_engine.run(config, embedding_paths, edge_paths, edge_format, feature_paths)
    if scored is None:
      return None
    results, split_counts, rejected = scored
    return _result(config, {}, rejected, results, split_counts)

  def keep(item_id):
    return split.is_test(item_id, config.test_fraction)

  read_keep = (lambda _: True) if config.labels_from else keep
  rejected = collections.Counter()
  emb_all = readers.read_embeddings(embedding_paths, read_keep, rejected)
  if rejected:
    logging.warning("evaluate: embeddings left out: %s", dict(sorted(rejected.items())))
  raw_all = readers.read_baseline_features(feature_paths, config.modalities, read_keep)
  emb = {k: v for k, v in emb_all.items() if keep(k)}
  raw = {k: v for k, v in raw_all.items() if keep(k)}
  test_edges = readers.read_test_edges(edge_paths, edge_format, keep)
  results, queries, database = retrieval.retrieval_results(
      {"embeddings": emb, "raw_features": raw}, test_edges, config.ndcg_k, config.map_k,
      config.query_block)
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
  return _result(config, extra, {f"embeddings/{k}": v for k, v in rejected.items()}, results,
                 split_counts)


def _result(config: EvaluateConfig, extra: dict, rejected: dict, results: dict,
            split_counts: dict) -> dict:
  """The metrics.json dictionary, the same for both engines."""
  return {
      **extra,
      "rejected": dict(sorted(rejected.items())),
      "retrieval": results,
      "split": {"test_fraction": config.test_fraction, **split_counts},
      "inputs": {"embeddings": config.embeddings, "edges": config.edges,
                 "features": config.features},
  }


def parse_args(argv):
  parser = argparse.ArgumentParser(prog="gcml evaluate", description=__doc__.splitlines()[0])
  parser.add_argument("--embeddings", required=True, help="embedding TFRecord glob (contract 7)")
  parser.add_argument("--edges", required=True, help="edge files: glob(s), comma-separated")
  parser.add_argument("--features", required=True,
                      help="feature TFRecord glob, for the raw-feature baseline")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--edge_format", default="auto", help="csv|tsv|tfrecord|auto")
  parser.add_argument("--modalities", default=None,
                      help="feature vectors as name:dim,name:dim (default: as recorded by "
                      "gcml export beside --embeddings, else detected from the records)")
  parser.add_argument("--test_fraction", type=float, default=split.TEST_FRACTION)
  parser.add_argument("--ndcg_k", type=int, default=60, help="k of NDCG@k (60 in the paper)")
  parser.add_argument("--map_k", type=int, default=60,
                      help="k of MAP@k, the paper's AP summed over the top k (60)")
  parser.add_argument("--query_block", type=int, default=1024)
  parser.add_argument("--labels_from", default=None,
                      help="feature TFRecord glob with `labels`: run the annotation metrics")
  parser.add_argument("--model_dir", action="append", default=[],
                      help="gcml train --model_dir whose summaries to plot (usage ratio, "
                      "loss, learning rate) and tabulate (margins): [NAME=]DIR, repeated "
                      "or comma-separated")
  parser.add_argument("--annotation_hidden", type=int, default=4096)
  parser.add_argument("--annotation_experts", type=int, default=5)
  parser.add_argument("--annotation_steps", type=int, default=100_000)
  parser.add_argument("--annotation_batch", type=int, default=512)
  parser.add_argument("--annotation_learning_rate", type=float, default=0.005)
  parser.add_argument("--engine", default="local", choices=("local", "beam"),
                      help="local: in memory on this machine; beam: retrieval as a Beam "
                      "pipeline (Beam options such as --runner pass through)")
  known, pipeline_args = parser.parse_known_args(argv)
  if pipeline_args and known.engine != "beam":
    parser.error(f"unrecognized arguments: {' '.join(pipeline_args)}")
  if known.engine == "beam" and known.labels_from:
    raise InputError("--labels_from (annotation) runs in memory only: drop --engine=beam")
  if min(known.ndcg_k, known.map_k, known.query_block) < 1:
    raise InputError("--ndcg_k, --map_k and --query_block must be >= 1")
  if min(known.annotation_hidden, known.annotation_experts, known.annotation_steps,
         known.annotation_batch) < 1 or known.annotation_learning_rate <= 0:
    raise InputError("--annotation_* values must be positive")
  annotation_config = None
  if known.labels_from:
    from model.annotation import AnnotationConfig  # pylint: disable=import-outside-toplevel
    annotation_config = AnnotationConfig(known.annotation_hidden, known.annotation_experts,
                                         known.annotation_learning_rate,
                                         known.annotation_batch, known.annotation_steps)
  return EvaluateConfig(known.embeddings, known.edges, known.features, known.output_dir,
                        known.edge_format, modalities.parse_flag(known.modalities),
                        known.test_fraction, known.ndcg_k, known.map_k, known.query_block,
                        known.labels_from, annotation_config,
                        training_summaries.parse_model_dirs(known.model_dir), known.engine,
                        tuple(pipeline_args))


def run(argv=None) -> dict:
  """Evaluates and writes metrics.json, metrics.md and the charts; returns the result."""
  config = parse_args(argv)
  readers.check_embeddings_split(config)
  edge_format = edges_lib.edge_format_of(config.edges, config.edge_format)
  edge_paths = inputs.check_files(config.edges, "--edges", edge_format == "tfrecord")
  embedding_paths = inputs.check_files(config.embeddings, "--embeddings", tfrecord=True,
                                        require_manifest=True)
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  config = dataclasses.replace(config, modalities=modalities.settle(
      config.modalities, feature_paths, modalities.directory_of(config.embeddings), "export"))
  scalars = training_summaries.read_runs(config.model_dirs)  # fails early on a bad dir
  result = evaluate(config, embedding_paths, edge_paths, feature_paths)
  if result is None:
    print("evaluate: --dry_run: the job graph was built, nothing was scored")
    return {}
  training_charts = {}
  if config.model_dirs:
    result["training"] = training_summaries.training_section(config.model_dirs, scalars)
    training_charts = training_summaries.charts(scalars)
  sharded_io.ensure_dir(config.output_dir)
  report.write_outputs(config.output_dir, result, config.ndcg_k, training_charts, config.map_k)
  logging.info("evaluate: %s", json.dumps(result["retrieval"], sort_keys=True))
  print(report.markdown_table(result, config.ndcg_k, config.map_k), end="")
  print(f"evaluate: wrote {config.output_dir}/metrics.json, metrics.md and charts")
  return result
