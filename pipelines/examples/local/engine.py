"""`gcml examples --engine=local`: the whole stage in memory, the Beam engine's bytes.

`run_local` reads the inputs once, builds the examples of `config.kind` with
the modules of this package, and writes the records, `rejected/examples-*`
and the stats file that `make_examples.run` folds into `summary.json`
exactly as after a Beam run (`summary.merge_stats_into_summary`).
"""

import collections
import logging
import time

import numpy as np
from pipelines.io.file_system import FileSystems

from pipelines import hashing, split
from pipelines.io import features as features_lib
from pipelines.io import rejected, sharded_io, summary, tf_example
from pipelines.io import edges_local as local_io
from pipelines.examples import cluster_labels, validation_set
from pipelines.examples.join_features import labelled_record
from pipelines.examples.local import anchors as anchors_lib
from pipelines.examples.local import inputs, item_infos, negatives, records, triplet_records


def read_edges(config, edge_paths: list, stage: str, counts, rejections: list):
  """`edges.ReadEdges` (min_weight 0): unique edges; counts and rejections added.

  Args:
    config: the stage's config.
    edge_paths: the edge files.
    stage: the stage name.
    counts: a Counter, added to.
    rejections: a list, appended to.

  Returns:
    The LocalEdges.
  """
  edges = local_io.read_edges_local(edge_paths, config.edge_format, config.edge_combine, stage)
  counts.update(edges.stats)
  if len(edges.src):
    counts["edges/under_min_weight"] += 0
  rejections += edges.rejections
  return edges


def run_local(config, edge_paths: list, feature_paths: list, assignment_paths: list,
              levels: int, stage: str) -> None:
  """Runs the examples stage of `config` (an `ExamplesConfig`) in memory.

  Args:
    config: the run's configuration.
    edge_paths: edge files (checked), empty for labels.
    feature_paths: feature TFRecord files (checked).
    assignment_paths: cluster table shards (checked), empty for random and validation.
    levels: levels of the cluster tables (0 without tables).
    stage: stage name for rejections and stats.
  """
  started = time.time()
  counts, rejections = collections.Counter(), []
  features = features_lib.read_features_local(feature_paths, config.modalities, stage)
  counts.update(features.stats)
  rejections += features.rejections
  if config.kind == "validation":
    edges = read_edges(config, edge_paths, stage, counts, rejections)
    _write_validation_set(config, features.items, edges, counts)
  else:
    _examples(config, features.items, edge_paths, assignment_paths, levels, stage, counts,
              rejections)
  counts.update(rejected.write_rejected_local(config.output_dir, stage, rejections))
  summary.write_stats_local(config.output_dir, stage, counts)
  logging.info("examples (local): %.1fs", time.time() - started)


def _examples(config, items, edge_paths, assignment_paths, levels, stage, counts, rejections):
  fractions = (config.test_fraction, config.validation_fraction)
  train_ids = item_infos.train_only(sorted(items), *fractions, "items/{part}_with_features",
                                    counts)
  rows = []
  if config.kind != "random":
    all_rows, refused = inputs.read_assignments_local(assignment_paths, levels, stage)
    rejections += refused
    for row, part in zip(all_rows, item_infos.split_parts([r.id for r in all_rows], *fractions)):
      if part == "train":
        rows.append(row)
      else:
        counts[f"items/{part}_in_tables"] += 1
  infos = item_infos.item_infos(train_ids, rows, config.seed, config.kind != "random", stage,
                                counts, rejections)
  counts["items/train_with_features"] += len(infos.ids)
  if config.kind == "labels":
    keyed = _labels(config, infos, counts)
    records.write_shards(config.output_prefix, ".tfrecord", config.num_shards, keyed,
                         lambda v: labelled_record(v[0], v[1], items[v[0]].features,
                                                   config.modalities), sharded_io.TFRECORD)
    return
  triplets = _triplets(config, infos, edge_paths, levels, stage, counts, rejections)
  rank = infos.rank
  columns = (np.fromiter((rank[t[i]] for t in triplets), np.int64, len(triplets))
             for i in range(3))
  arrays = (*columns, np.fromiter((t[3] for t in triplets), np.int64, len(triplets)))
  del triplets

  def vectors_of(name, used):
    return np.stack([items[infos.ids[i]].features[name] for i in used.tolist()]) if len(
        used) else np.zeros((0, 1), np.float32)

  triplet_records.write_triplets(config.output_prefix, config.num_shards, arrays, infos.ids,
                                 vectors_of, config.modalities, config.seed, counts)


def _triplets(config, infos, edge_paths, levels, stage, counts, rejections) -> list:
  """The triplet branch (`triplets.build_triplets`): (anchor, positive, negative, level)."""
  smart = config.kind == "smart"
  edges = read_edges(config, edge_paths, stage, counts, rejections)
  samples = {}
  if smart:
    if config.level == 0 or config.all_levels:
      samples[0] = item_infos.l0_samples(infos, config.seed, config.reservoir_size)
    for level in range(1 if config.all_levels else max(1, config.level), levels):
      samples[level] = item_infos.parent_samples(infos, level, config.seed,
                                                 config.reservoir_size, config.max_children)
  anchors = anchors_lib.sample_anchors(edges, infos, config, smart, counts)
  if anchors:
    counts["anchors"] += len(anchors)
    counts["triplets/before_cap"] += sum(len(a.positives) for _, a in anchors)
  if config.num_triplets:
    anchors = anchors_lib.cap_slots(anchors, config.num_triplets, config.seed)
  triplets, to_random = [], anchors
  if smart:
    mixed = []
    if config.random_fraction > 0:
      anchors, mixed = anchors_lib.mix_random(anchors, config.random_fraction, config.seed,
                                              counts)
    edge_set = negatives.EdgeSet(edges)
    to_random = []
    for start in (range(levels) if config.all_levels else [config.level]):
      drawn, pending = negatives.smart_triplets(anchors, samples, start, levels, config,
                                                edge_set, counts)
      triplets += drawn
      to_random += pending
    to_random += mixed
  triplets += negatives.random_triplets(to_random, infos.ids, config.seed, counts)
  return triplets


def _labels(config, infos, counts) -> list:
  """`cluster_labels.ClusterLabels`: (sort key, (id, label)); writes `classes.tsv`."""
  groups = collections.defaultdict(list)
  for item_id, path in zip(infos.ids, infos.paths):
    if path is not None:
      groups[path[config.level]].append((hashing.hash64(config.seed, "label", item_id),
                                         item_id))
  kept = []
  for cluster, pairs in groups.items():
    pairs.sort()
    kv = (cluster, (len(pairs), tuple(pairs[:config.max_per_cluster])))
    kept += anchors_lib.split_outputs(
        cluster_labels._keep_class(kv, config.min_cluster_size), {}, counts)  # pylint: disable=protected-access
  label_of = {c: r for r, c in enumerate(item_infos.dense_ranks(
      [c for c, _ in kept], config.seed, salt="label"))}
  rows, keyed, histograms = [], [], {"size": collections.Counter(),
                                     "members": collections.Counter()}
  for cluster, (count, members) in kept:
    label = label_of[cluster]
    rows.append((label, cluster, len(members), count))
    histograms["size"][len(members)] += 1
    histograms["members"][count] += 1
    counts["classes/count"] += 1
    counts["examples/total"] += len(members)
    keyed += [(f"{hashing.order_key(config.seed, m)}|{m}", (m, label)) for m in members]
  cluster_labels._write_classes((0, {"row": rows}),  # pylint: disable=protected-access
                                cluster_labels.classes_path(config.output_dir))
  for name, histogram in histograms.items():
    if histogram:
      for key, value in cluster_labels._quantile_stats((name, dict(histogram))):  # pylint: disable=protected-access
        counts[key] += value
  return keyed


def _write_validation_set(config, items: dict, edges, counts) -> None:
  """`validation_set.WriteValidationSet`: the validation items and the edges between them."""
  fractions = (config.test_fraction, config.validation_fraction)
  kept = [i for i in sorted(items) if split.split_of(i, *fractions) == "validation"]
  if kept:
    counts["validation/items"] += len(kept)
  sharded_io.write_sorted_shards_local(
      ((i, tf_example.encode({"id": i, **items[i].features})) for i in kept),
      FileSystems.join(config.output_dir, validation_set.ITEMS), ".tfrecord", config.num_shards,
      sharded_io.TFRECORD)
  lines = []
  for s, d in zip(edges.src.tolist(), edges.dst.tolist()):
    a, b = edges.ids[s], edges.ids[d]
    if (split.split_of(a, *fractions) == "validation"
        and split.split_of(b, *fractions) == "validation"):
      lines.append((f"{a}\t{b}", f"{a}\t{b}"))
  if lines:
    counts["validation/edges"] += len(lines)
  sharded_io.write_sorted_shards_local(
      lines, FileSystems.join(config.output_dir, validation_set.EDGES), ".tsv",
      config.num_shards, header=validation_set.EDGES_HEADER)
