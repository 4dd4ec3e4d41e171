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
import io
import json
import logging

import numpy as np
from apache_beam.io.filesystems import FileSystems

from model import metrics
from pipelines import edges as edges_lib
from pipelines import features as features_lib
from pipelines import inputs, sharded_io, split, tf_example
from pipelines.evaluation import training_summaries
from pipelines.clustering import local_io
from pipelines.errors import InputError

MODELS = ("embeddings", "raw_features")


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


def read_embeddings(paths, keep, rejected: collections.Counter | None = None
                    ) -> dict[str, np.ndarray]:
  """id -> embedding for ids where `keep(id)`.

  Args:
    paths: embedding TFRecord files (contract 7).
    keep: which ids to return.
    rejected: counts refused vectors by reason: a kept embedding with a NaN or
      infinite value is left out and counted as `embedding_not_finite`.

  Raises:
    InputError: a record that is not an embedding, embeddings of different
      sizes (naming both sizes and files), or a kept id found twice (naming
      both files: each id must appear once, e.g. not two shard sets mixed).
  """
  out, seen = {}, {}
  first = None  # (dim, path) of the first embedding
  for path in paths:
    for data in inputs.tfrecords([path]):
      try:
        rec = tf_example.parse(data)
        item_id = rec["id"][0].decode("utf-8")
        vec = np.asarray(rec["embedding"], np.float32)
      except (ValueError, KeyError, IndexError, UnicodeDecodeError, TypeError) as e:
        raise InputError(f"--embeddings: {path}: not an embedding record ({e})") from None
      if first is None:
        first = (vec.size, path)
      if vec.size != first[0] or not vec.size:
        raise InputError(f"--embeddings: embeddings of {first[0]} values in {first[1]} and of "
                         f"{vec.size} values in {path} (id {item_id!r}); one model's "
                         "embeddings have one size")
      if not keep(item_id):
        continue
      if item_id in seen:
        where = f"twice in {path}" if seen[item_id] == path else \
            f"in {seen[item_id]} and in {path}"
        raise InputError(f"--embeddings: id {item_id!r} appears {where}; each id must appear "
                         "once (two exports mixed in one glob?)")
      seen[item_id] = path
      if not np.all(np.isfinite(vec)):
        if rejected is not None:
          rejected["embedding_not_finite"] += 1
        continue
      out[item_id] = vec
  return out


def read_baseline_features(paths, modalities, keep) -> dict[str, np.ndarray]:
  """id -> concatenation of the L2-normalised modalities (valid records only)."""
  out = {}
  for data in inputs.tfrecords(paths):
    item = features_lib.parse_item(data, modalities)
    if isinstance(item, features_lib.Item) and keep(item.id) and item.id not in out:
      out[item.id] = np.concatenate(
          [metrics.normalize_rows(item.features[m.name][None, :])[0] for m in modalities]
      ).astype(np.float32)
  return out


def read_labels(paths) -> dict[str, tuple]:
  """id -> labels (int64 list) of every record that has an id and labels."""
  out = {}
  for data in inputs.tfrecords(paths):
    try:
      rec = tf_example.parse(data)
    except ValueError:
      continue
    ids, labels = rec.get("id"), rec.get("labels")
    if not ids or labels is None or isinstance(labels, np.ndarray) or not len(labels):
      continue
    try:
      out.setdefault(ids[0].decode("utf-8").strip(), tuple(int(x) for x in labels))
    except (UnicodeDecodeError, AttributeError):
      continue
  return out


def annotation_results(config, emb, raw, labels) -> dict:
  """Trains the annotation model per input on train items; metrics on test items."""
  from model import annotation  # pylint: disable=import-outside-toplevel
  usable = sorted(set(emb) & set(raw) & set(labels))
  train = [i for i in usable if not split.is_test(i, config.test_fraction)]
  test = [i for i in usable if split.is_test(i, config.test_fraction)]
  if not train or not test:
    raise InputError("--labels_from: annotation needs labelled train and test items with "
                     f"embeddings and features (got {len(train)} train, {len(test)} test)")
  vocab = sorted({c for i in usable for c in labels[i]})
  dense = {c: j for j, c in enumerate(vocab)}

  def y(ids):
    return annotation.multi_hot([[dense[c] for c in labels[i]] for i in ids], len(vocab))

  inputs_ = {
      "embeddings": lambda i: emb[i],
      "raw_features": lambda i: raw[i],
      "embeddings+raw_features": lambda i: np.concatenate([emb[i], raw[i]]),
  }
  out = {}
  for name, fn in inputs_.items():
    probs = annotation.train_and_predict(np.stack([fn(i) for i in train]), y(train),
                                         np.stack([fn(i) for i in test]), config.annotation)
    out[name] = metrics.annotation_metrics(probs, y(test))
  return out, {"train_items": len(train), "test_items": len(test), "classes": len(vocab)}


def read_test_edges(paths, edge_format, keep) -> set[tuple[str, str]]:
  """Valid undirected edges (a < b) with both endpoints kept.

  Reads through the same validation as every other stage; refused records
  are counted and logged (evaluation writes no rejected/ folder of its own).
  """
  graph = local_io.read_edges_local(paths, edge_format, "max", stage="evaluate")
  if graph.rejections:
    reasons = collections.Counter(r.reason for r in graph.rejections)
    logging.warning("evaluate: %d edge records rejected: %s", len(graph.rejections),
                    dict(sorted(reasons.items())))
  kept = [keep(item_id) for item_id in graph.ids]
  return {(graph.ids[a], graph.ids[b]) for a, b in zip(graph.src.tolist(), graph.dst.tolist())
          if kept[a] and kept[b]}


def evaluate(config: EvaluateConfig, embedding_paths, edge_paths, feature_paths) -> dict:
  def keep(item_id):
    return split.is_test(item_id, config.test_fraction)

  read_keep = (lambda _: True) if config.labels_from else keep
  rejected = collections.Counter()
  emb_all = read_embeddings(embedding_paths, read_keep, rejected)
  if rejected:
    logging.warning("evaluate: embeddings left out: %s", dict(sorted(rejected.items())))
  raw_all = read_baseline_features(feature_paths, config.modalities, read_keep)
  emb = {k: v for k, v in emb_all.items() if keep(k)}
  raw = {k: v for k, v in raw_all.items() if keep(k)}
  items = set(emb) & set(raw)
  test_edges = read_test_edges(
      edge_paths, edges_lib.edge_format_of(config.edges, config.edge_format), keep)
  queries, database, relevance, exclude = metrics.retrieval_sets(test_edges, items)
  if not queries:
    raise InputError("no test item has a related test item with both an embedding and "
                     "features: nothing to evaluate")
  results = {}
  for name, vectors in (("embeddings", emb), ("raw_features", raw)):
    results[name] = metrics.retrieval_metrics(
        np.stack([vectors[q] for q in queries]), np.stack([vectors[d] for d in database]),
        relevance, exclude, ndcg_k=config.ndcg_k, map_k=config.map_k,
        block=config.query_block)
  extra = {}
  if config.labels_from:
    labels = read_labels(inputs.check_files(config.labels_from, "--labels_from", tfrecord=True))
    extra["annotation"], extra["annotation_split"] = annotation_results(
        config, emb_all, raw_all, labels)
  return {
      **extra,
      "rejected": {f"embeddings/{k}": v for k, v in sorted(rejected.items())},
      "retrieval": results,
      "split": {"test_fraction": config.test_fraction,
                "test_items_with_embedding": len(emb),
                "test_items_with_features": len(raw),
                "test_items_with_both": len(items),
                "test_test_edges": len(test_edges),
                "queries": len(queries), "database": len(database)},
      "inputs": {"embeddings": config.embeddings, "edges": config.edges,
                 "features": config.features},
  }


def retrieval_keys(ndcg_k: int = 60, map_k: int = 60) -> tuple:
  """The headline retrieval metrics, in table order: MAP@k, then NDCG@k."""
  return (f"map@{map_k}", f"ndcg@{ndcg_k}")


def markdown_table(result: dict, ndcg_k: int = 60, map_k: int = 60) -> str:
  keys = retrieval_keys(ndcg_k, map_k)
  lines = [f"| model | MAP@{map_k} | NDCG@{ndcg_k} | queries | database |",
           "|---|---:|---:|---:|---:|"]
  for name, row in result["retrieval"].items():
    lines.append(f"| {name} | " + " | ".join(f"{row[k]:.4f}" for k in keys) +
                 f" | {row['num_queries']} | {row['num_database']} |")
  if "annotation" in result:
    lines += ["", "| model | GAP@20 | MAP | Hit@1 | Hit@5 |", "|---|---:|---:|---:|---:|"]
    for name, row in result["annotation"].items():
      lines.append(f"| {name} | " + " | ".join(
          f"{row[k]:.4f}" for k in ("gap@20", "map", "hit@1", "hit@5")) + " |")
  margins = training_summaries.margin_markdown(result.get("training", {}))
  if margins:
    lines += ["", margins.rstrip("\n")]
  return "\n".join(lines) + "\n"


def bar_chart_png(title: str, values: dict[str, float]) -> bytes:
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(values), 3), dpi=100)
  names = list(values)
  colors = ["tab:blue", "tab:gray", "tab:orange"]
  bars = ax.bar(names, [values[n] for n in names], color=colors[:len(names)])
  ax.bar_label(bars, fmt="%.4f")
  ax.set_title(title)
  ax.set_ylim(0, max(1e-9, max(values.values())) * 1.2)
  fig.tight_layout()
  buf = io.BytesIO()
  fig.savefig(buf, format="png", metadata={"Software": None})
  plt.close(fig)
  return buf.getvalue()


def write_outputs(output_dir: str, result: dict, ndcg_k: int,
                  training_charts: dict | None = None, map_k: int = 60) -> list[str]:
  paths = []

  def put(name, data: bytes):
    path = FileSystems.join(output_dir, name)
    try:
      sharded_io.atomic_write(path, data)
    except OSError as e:
      raise InputError(f"--output_dir: cannot write {path}: {e.strerror or e}") from None
    paths.append(path)

  put("metrics.json", (json.dumps(result, indent=2, sort_keys=True) + "\n").encode())
  put("metrics.md", markdown_table(result, ndcg_k, map_k).encode())
  for key in retrieval_keys(ndcg_k, map_k):
    title = key.upper()
    values = {name: row[key] for name, row in result["retrieval"].items()}
    put(key.replace("@", "_at_") + ".png", bar_chart_png(f"{title} (cold-start retrieval)",
                                                         values))
  for key, title in (("gap@20", "GAP@20"), ("map", "MAP"), ("hit@1", "Hit@1"),
                     ("hit@5", "Hit@5")):
    if "annotation" in result:
      values = {name: row[key] for name, row in result["annotation"].items()}
      put("annotation_" + key.replace("@", "_at_") + ".png",
          bar_chart_png(f"{title} (annotation)", values))
  for name, png in (training_charts or {}).items():
    put(name, png)
  return paths


def parse_args(argv):
  parser = argparse.ArgumentParser(prog="gcml evaluate", description=__doc__.splitlines()[0])
  parser.add_argument("--embeddings", required=True, help="embedding TFRecord glob (contract 7)")
  parser.add_argument("--edges", required=True, help="edge files: glob(s), comma-separated")
  parser.add_argument("--features", required=True,
                      help="feature TFRecord glob, for the raw-feature baseline")
  parser.add_argument("--output_dir", required=True)
  parser.add_argument("--edge_format", default="auto", help="csv|tsv|tfrecord|auto")
  parser.add_argument("--modalities", default=features_lib.modalities_flag(
      features_lib.DEFAULT_MODALITIES), help="feature vectors as name:dim,name:dim")
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
  known = parser.parse_args(argv)
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
                        known.edge_format, features_lib.parse_modalities(known.modalities),
                        known.test_fraction, known.ndcg_k, known.map_k, known.query_block,
                        known.labels_from, annotation_config,
                        training_summaries.parse_model_dirs(known.model_dir))


def check_embeddings_split(config: EvaluateConfig) -> None:
  """Refuses embeddings of a model trained under another cold-start split.

  The split comes from the `export` section of the `summary.json` beside each
  embeddings glob (`gcml export` copies it from the model's `split.json`).
  """
  for glob in filter(None, (g.strip() for g in config.embeddings.split(","))):
    path = FileSystems.join(glob.rsplit("/", 1)[0] if "/" in glob else ".",
                            "summary.json")
    if FileSystems.exists(path):
      with FileSystems.open(path) as f:
        recorded = json.loads(f.read().decode("utf-8")).get("export", {}).get("split")
      split.check_same(recorded, config.test_fraction, f"--embeddings={glob}")


def run(argv=None) -> dict:
  """Evaluates and writes metrics.json, metrics.md and the charts; returns the result."""
  config = parse_args(argv)
  check_embeddings_split(config)
  edge_format = edges_lib.edge_format_of(config.edges, config.edge_format)
  edge_paths = inputs.check_files(config.edges, "--edges", edge_format == "tfrecord")
  embedding_paths = inputs.check_files(config.embeddings, "--embeddings", tfrecord=True,
                                        require_manifest=True)
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  scalars = training_summaries.read_runs(config.model_dirs)  # fails early on a bad dir
  result = evaluate(config, embedding_paths, edge_paths, feature_paths)
  training_charts = {}
  if config.model_dirs:
    result["training"] = training_summaries.training_section(config.model_dirs, scalars)
    training_charts = training_summaries.charts(scalars)
  sharded_io.ensure_dir(config.output_dir)
  write_outputs(config.output_dir, result, config.ndcg_k, training_charts, config.map_k)
  logging.info("evaluate: %s", json.dumps(result["retrieval"], sort_keys=True))
  print(markdown_table(result, config.ndcg_k, config.map_k), end="")
  print(f"evaluate: wrote {config.output_dir}/metrics.json, metrics.md and charts")
  return result
