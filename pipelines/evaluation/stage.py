"""`gcml evaluate`: cold-start retrieval metrics of embeddings and raw features.

Retrieval on the cold-start split (DESIGN.md "Metrics"; the GCML paper,
section 4): only test items (`pipelines/split.is_test`, 30 % of the ids)
take part. Queries are the test items with at least one related test item
(an edge of the graph between two test items); the database is the union of
the queries' related test items; candidates are ranked by cosine similarity
(the query itself is never a candidate); relevance is an edge. MAP@60 (the
paper's AP summed over the top 60, the headline), NDCG@60 and the whole-list
MAP (`map_full_list`, for reference only) follow `model/metrics.py`.

`--search=exact` (the default) ranks every database item for every query:
O(queries x database x d), hours at 1M items. `--search=ivfflat|ivfpq`
ranks only each query's top max(k) + 1 candidates from a faiss IVF index of
the database (one per model, trained and built as `gcml export` builds its
related-items index; `--ann_*` flags as export's), re-ranked by the exact
cosine (`pipelines/evaluation/ann_retrieval.py`): MAP@60 and NDCG@60 with the
same definitions (a relevant item the index misses is a miss), and
`map_full_list` null (it needs every rank). With every list probed
(`--ann_nprobe` >= the lists) they are the exact values.

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

import dataclasses
import json
import logging
from typing import Literal

from pipelines.io import inputs, modalities, sharded_io
from pipelines import split
from pipelines import config_flags
from pipelines.errors import InputError
from pipelines.io import stage_run
from pipelines.evaluation import ann_retrieval, local_engine, readers, report, training_summaries
from pipelines.export import related_ann


@dataclasses.dataclass
class EvaluateConfig:
  """What `gcml evaluate` scores (flags of the same names, `pipelines/config_flags.py`).

  Attributes:
    embeddings: embedding TFRecord glob (contract 7).
    features: feature TFRecord glob, for the raw-feature baseline.
    output_dir: where metrics.json, metrics.md and the charts go.
    modalities: feature vectors as name:dim,name:dim (default: as recorded by
      gcml export beside --embeddings, else detected from the records).
    test_fraction: cold-start test share (must match clustering and examples).
    ndcg_k: k of NDCG@k (60 in the paper).
    map_k: k of MAP@k, the paper's AP summed over the top k (60).
    query_block: queries scored per block.
    labels_from: feature TFRecord glob with `labels`: run the annotation metrics.
    model_dir: gcml train --model_dir whose summaries to plot (usage ratio,
      loss, learning rate) and tabulate (margins): [NAME=]DIR, repeated or
      comma-separated.
    annotation_hidden: annotation classifier (`model/annotation.py`): hidden units.
    annotation_experts: annotation classifier: mixture-of-experts size.
    annotation_steps: annotation classifier: training steps.
    annotation_batch: annotation classifier: batch size.
    annotation_learning_rate: annotation classifier: learning rate.
    engine: local: in memory on this machine; beam: retrieval as a Beam
      pipeline (Beam options such as --runner pass through).
    search: candidates ranked per query: exact (the whole database), ivfflat
      or ivfpq (each query's top max(k) + 1 from a faiss IVF index, re-ranked
      by exact cosine; map_full_list null).
    ann_nprobe: ivfflat, ivfpq: inverted lists searched per query (64; twice
      export's default: a metric should be nearer the exact one).
    ann_nlist: ivfflat, ivfpq: coarse centroids (0: min(4 sqrt(N), train items / 39)).
    ann_train_size: ivfflat, ivfpq: database items (chosen by id hash) the index is trained on.
    ann_code_bytes: ivfpq: PQ bytes per item (0: dim / 2).
  """
  embeddings: str
  edges: str
  features: str
  output_dir: str
  edge_format: str = "auto"
  modalities: tuple | None = config_flags.modalities_field()  # None: recorded, else detected
  test_fraction: float = split.TEST_FRACTION
  ndcg_k: int = 60
  map_k: int = 60
  query_block: int = 1024
  labels_from: str | None = None
  model_dir: dict = dataclasses.field(  # run name -> gcml train dir
      default=None, metadata={"parse": training_summaries.parse_model_dirs, "repeated": True})
  annotation_hidden: int = 4096
  annotation_experts: int = 5
  annotation_steps: int = 100_000
  annotation_batch: int = 512
  annotation_learning_rate: float = 0.005
  engine: Literal["local", "beam"] = "local"  # local: in memory; beam: retrieval on Beam
  search: Literal[ann_retrieval.SEARCHES] = "exact"
  ann_nprobe: int = 64  # export's 32 leaves MAP@60 3-5 % low at 1M; 64: 1-2 %
  ann_nlist: int = 0  # 0: min(4 sqrt(N), train items / 39)
  ann_train_size: int = 65536
  ann_code_bytes: int = 0  # 0: dim / 2

  def check(self) -> None:
    """Raises InputError naming the flag of a bad value."""
    if self.engine == "beam" and self.labels_from:
      raise InputError("--labels_from (annotation) runs in memory only: drop --engine=beam")
    if min(self.ndcg_k, self.map_k, self.query_block) < 1:
      raise InputError("--ndcg_k, --map_k and --query_block must be >= 1")
    if self.search not in ann_retrieval.SEARCHES:
      raise InputError(f"--search must be one of {', '.join(ann_retrieval.SEARCHES)}, "
                       f"got {self.search!r}")
    if min(self.ann_nprobe, self.ann_train_size) < 1 or min(self.ann_nlist,
                                                            self.ann_code_bytes) < 0:
      raise InputError("--ann_nprobe and --ann_train_size must be >= 1, --ann_nlist and "
                       "--ann_code_bytes >= 0")
    if min(self.annotation_hidden, self.annotation_experts, self.annotation_steps,
           self.annotation_batch) < 1 or self.annotation_learning_rate <= 0:
      raise InputError("--annotation_* values must be positive")

  def search_settings(self) -> ann_retrieval.Search:
    """The `ann_retrieval.Search` of `--search` and the `--ann_*` flags."""
    if self.search == "exact":
      return ann_retrieval.Search()
    return ann_retrieval.Search(self.search, related_ann.AnnParams(
        self.ann_nprobe, self.ann_code_bytes, self.ann_nlist, self.ann_train_size, self.search))

  def annotation_config(self):
    """The `model.annotation.AnnotationConfig` of `--labels_from`, else None."""
    if not self.labels_from:
      return None
    from model.annotation import AnnotationConfig  # pylint: disable=import-outside-toplevel
    return AnnotationConfig(self.annotation_hidden, self.annotation_experts,
                            self.annotation_learning_rate, self.annotation_batch,
                            self.annotation_steps)


def evaluate(config: EvaluateConfig, embedding_paths, edge_paths, feature_paths,
             pipeline_args: tuple = (), shared: local_engine.SharedReads | None = None) -> dict:
  """Reads the inputs and scores retrieval (and annotation with `labels_from`).

  `config.engine` "local" runs in memory (`pipelines/evaluation/local_engine.py`);
  "beam" runs the retrieval as a Beam pipeline (`pipelines/evaluation/beam_engine.py`), same numbers.

  Args:
    config: the evaluation's settings.
    embedding_paths: embedding TFRecord files (contract 7).
    edge_paths: edge files (contract 1).
    feature_paths: feature TFRecord files (contract 2), for the baseline.
    pipeline_args: Beam's options (`--engine=beam`).
    shared: reads shared with other evaluations of the same world (local engine).

  Returns:
    The metrics.json dictionary (without the `training` section); None for
    a `--engine=beam --dry_run=True` job graph.
  """
  if config.engine == "beam":
    from pipelines.evaluation import beam_engine  # pylint: disable=import-outside-toplevel
    scored = beam_engine.run(config, embedding_paths, edge_paths, feature_paths, pipeline_args)
    if scored is None:
      return None
    results, split_counts, rejected = scored
    return _result(config, {}, rejected, results, split_counts)

  extra, rejected, results, split_counts = local_engine.score(
      config, embedding_paths, edge_paths, feature_paths, shared)
  return _result(config, extra, rejected, results, split_counts)


def _result(config: EvaluateConfig, extra: dict, rejected: dict, results: dict,
            split_counts: dict) -> dict:
  """The metrics.json dictionary, the same for both engines."""
  return {
      **extra,
      "rejected": dict(sorted(rejected.items())),
      "retrieval": results,
      "search": config.search_settings().record(),
      "split": {"test_fraction": config.test_fraction, **split_counts},
      "inputs": {"embeddings": config.embeddings, "edges": config.edges,
                 "features": config.features},
  }


def parse_args(argv) -> tuple[EvaluateConfig, list]:
  """Parses `gcml evaluate`'s flags into its config and the Beam pipeline options.

  Args:
    argv: the command line after `gcml evaluate`.

  Returns:
    (the EvaluateConfig, the arguments left for Beam's pipeline options).

  Raises:
    InputError: a flag that neither the stage nor Beam knows, or a bad value (one line).
  """
  return config_flags.parse_stage_config("gcml evaluate", __doc__, EvaluateConfig, argv,
                                         beam_engine_only=True)


def run(argv=None) -> dict:
  """Runs `gcml evaluate` on its command line (`parse_args`, then `run_config`).

  Args:
    argv: the command line after `gcml evaluate` (None: `sys.argv[1:]`).

  Returns:
    The metrics.json dictionary ({} for a `--dry_run=True` job graph).
  """
  return run_config(*parse_args(argv))


def run_configs(configs: list, pipeline_args: tuple = ()) -> list[dict]:
  """Runs several evaluations in turn (`run_config`), reading what they share once.

  Evaluations of several models on the same features and edges read them,
  and score the raw-feature baseline, once (`local_engine.SharedReads`);
  each writes the bytes it writes alone.

  Args:
    configs: the EvaluateConfigs.
    pipeline_args: Beam pipeline options, for `--engine=beam`.

  Returns:
    Each one's metrics.json dictionary, in order.
  """
  shared = local_engine.SharedReads()
  return [run_config(config, pipeline_args, shared) for config in configs]


def run_config(config: EvaluateConfig, pipeline_args: tuple = (),
               shared: local_engine.SharedReads | None = None) -> dict:
  """Evaluates and writes metrics.json, metrics.md and the charts.

  Args:
    config: what to score.
    pipeline_args: Beam pipeline options (`--runner=...`), for `--engine=beam`.
    shared: reads shared with other evaluations of the same world (`run_configs`).

  Returns:
    The metrics.json dictionary ({} for a `--dry_run=True` job graph).
  """
  config.check()
  readers.check_embeddings_split(config)
  config, edge_paths = stage_run.resolve_edges(config)
  embedding_paths = inputs.check_files(config.embeddings, "--embeddings", tfrecord=True,
                                        require_manifest=True)
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  config = dataclasses.replace(config, modalities=modalities.settle(
      config.modalities, feature_paths, modalities.directory_of(config.embeddings), "export"))
  scalars = training_summaries.read_runs(config.model_dir or {})  # fails early on a bad dir
  result = evaluate(config, embedding_paths, edge_paths, feature_paths, pipeline_args, shared)
  if result is None:
    print("evaluate: --dry_run: the job graph was built, nothing was scored")
    return {}
  training_charts = {}
  if config.model_dir:
    result["training"] = training_summaries.training_section(config.model_dir, scalars)
    training_charts = training_summaries.charts(scalars)
  sharded_io.ensure_dir(config.output_dir)
  report.write_outputs(config.output_dir, result, config.ndcg_k, training_charts, config.map_k)
  logging.info("evaluate: %s", json.dumps(result["retrieval"], sort_keys=True))
  print(report.markdown_table(result, config.ndcg_k, config.map_k), end="")
  print(f"evaluate: wrote {config.output_dir}/metrics.json, metrics.md and charts")
  return result
