"""`gcml examples --engine=local`: the whole stage in memory, the Beam engine's bytes.

`run_local` reads the inputs once, builds the examples of `config.kind` with
the modules of this package, and writes the records, `rejected/examples-*`
and the stats file that `examples.stage.run` folds into `summary.json`
exactly as after a Beam run (`summary.merge_stats_into_summary`).
Python's cyclic garbage collector is paused for the run (`cycle_collection`).
"""

import collections
import logging
import time

import numpy as np
from pipelines.io.file_system import FileSystems

from pipelines import cycle_collection, hashing_vectorised, split
from pipelines.io import features as features_lib
from pipelines.io import rejected, sharded_io, summary, tf_example
from pipelines.io import edges_local as local_io
from pipelines.examples import cluster_labels, validation_set
from pipelines.examples.local import anchors as anchors_lib
from pipelines.examples.local import (feature_rows, inputs, item_infos, negatives, records,
                                      sample_arrays, triplet_records)


def read_edges(config, edge_paths: list, stage: str, counts, rejections: list):
  """`edges_beam.ReadEdges` (min_weight 0): unique edges; counts and rejections added.

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
  with local_io.small_pages(), cycle_collection.paused():  # no huge-page compaction, no gc
    _run_local(config, edge_paths, feature_paths, assignment_paths, levels, stage)


def _run_local(config, edge_paths, feature_paths, assignment_paths, levels, stage) -> None:
  started = time.time()
  counts, rejections = collections.Counter(), []
  read = (features_lib.read_features_local if config.kind == "validation"
          else feature_rows.read_feature_rows_local)
  features = read(feature_paths, config.modalities, stage)
  counts.update(features.stats)
  rejections += features.rejections
  if config.kind == "validation":
    edges = read_edges(config, edge_paths, stage, counts, rejections)
    _write_validation_set(config, features.items, edges, counts)
  else:
    _examples(config, features, edge_paths, assignment_paths, levels, stage, counts,
              rejections)
  counts.update(rejected.write_rejected_local(config.output_dir, stage, rejections))
  summary.write_stats_local(config.output_dir, stage, counts)
  logging.info("examples (local): %.1fs", time.time() - started)


def _examples(config, features, edge_paths, assignment_paths, levels, stage, counts,
              rejections):
  fractions = (config.test_fraction, config.validation_fraction)
  known_splits = {}  # id -> split hash: each id hashed once for features, tables and edges
  train_ids = item_infos.train_only(sorted(features.row), *fractions,
                                    "items/{part}_with_features", counts, known_splits)
  rows = []
  if config.kind != "random":
    all_rows, refused = inputs.read_assignments_local(assignment_paths, levels, stage)
    rejections += refused
    parts = item_infos.split_parts([r.id for r in all_rows], *fractions, known_splits)
    for row, part in zip(all_rows, parts):
      if part == "train":
        rows.append(row)
      else:
        counts[f"items/{part}_in_tables"] += 1
  infos = item_infos.item_infos(train_ids, rows, config.seed, config.kind != "random", stage,
                                counts, rejections)
  counts["items/train_with_features"] += len(infos.ids)
  names = hashing_vectorised.encoded(infos.ids) if infos.ids else np.zeros(0, "S1")

  rows = np.fromiter((features.row[i] for i in infos.ids), np.int64, len(infos.ids))
  matrices = {m.name: features.matrices[m.name][rows] for m in config.modalities}
  features.row.clear()  # every value the records need is in `matrices` now (a row per rank)
  features.matrices.clear()

  def vectors_of(name, used):
    return matrices[name][used]

  if config.kind == "labels":
    members, labels = _labels(config, infos, names, counts)
    records.write_labelled(config.output_prefix, config.num_shards, members, labels, names,
                           vectors_of, config.modalities, config.seed)
    return
  arrays = _triplets(config, infos, names, edge_paths, levels, stage, counts, rejections,
                     known_splits)
  triplet_records.write_triplets(config.output_prefix, config.num_shards, arrays, names,
                                 vectors_of, config.modalities, config.seed, counts)


def _triplets(config, infos, names, edge_paths, levels, stage, counts, rejections,
              known_splits=None) -> tuple:
  """The triplet branch (`triplets.build_triplets`): (anchor, positive, negative, level) arrays.

  Anchors, positives and negatives are ranks (indices into `infos.ids`). The
  samples of a level above the first sampled one are built when a slot first
  reaches it (`samples`): none may (at 20k, no slot leaves level 1).
  """
  smart = config.kind == "smart"
  edges = read_edges(config, edge_paths, stage, counts, rejections)
  arrays = {}

  def samples(level: int) -> sample_arrays.LevelArrays:
    """The level's samples (a level >= 1 built on first use)."""
    if level not in arrays:
      arrays[level] = sample_arrays.parent_samples(
          infos, names, infos.by_name, level, config.seed, config.reservoir_size,
          config.max_children, samples(level - 1))
    return arrays[level]

  if smart:
    first_sampled = 0 if config.all_levels or config.level == 0 else max(1, config.level)
    for level in range(min(first_sampled, levels)):
      arrays[level] = sample_arrays.LevelArrays(infos.paths, level)
    if first_sampled == 0:
      arrays[0] = sample_arrays.level0_samples(infos, names, infos.by_name, config.seed,
                                               config.reservoir_size)
      infos.in_res0 = arrays[0].position >= 0
  slots = anchors_lib.sample_anchors(edges, infos, names, config, smart, counts,
                                     arrays[0].cluster_of if smart else None, known_splits)
  if len(slots.anchor):
    counts["anchors"] += len(slots.anchor)
    counts["triplets/before_cap"] += len(slots.slot_anchor)
  sa, sp = slots.slot_anchor, slots.slot_positive
  if config.num_triplets:
    kept = anchors_lib.cap_slots(sa, sp, names, config.num_triplets, config.seed)
    sa, sp = sa[kept], sp[kept]
  if not smart:
    return negatives.random_triplets(sa, sp, names, config.seed, counts)
  to_random = [np.zeros((2, 0), np.int64)]
  if config.random_fraction > 0:
    mixed = anchors_lib.mix_random(sa, sp, names, config.random_fraction, config.seed, counts)
    to_random.append(np.stack((sa[mixed], sp[mixed])))
    sa, sp = sa[~mixed], sp[~mixed]
  excluded = None
  if infos.in_res0 is not None:
    excluded = sample_arrays.excluded_positions(slots, arrays[0], len(infos.ids))
  nbr0 = np.zeros(len(infos.ids), np.int64)
  nbr0[slots.anchor] = slots.nbr0
  edge_set = negatives.EdgeSet(edges, slots.rank_of_edge_id, len(infos.ids))
  del slots, edges
  drawn = []
  for start in (range(levels) if config.all_levels else [config.level]):
    a, p = sa, sp
    for level in range(start, levels):
      if not len(a):
        break  # no slot goes on up: the levels above draw nothing, count nothing
      if level == 0:
        triplets, up = negatives.level0(a, p, nbr0[a], excluded, arrays[0], names,
                                        config.seed, counts)
      else:
        triplets, up, exhausted = negatives.upper(a, p, level, samples(level),
                                                  samples(level - 1), names, config,
                                                  edge_set, counts)
        to_random.append(np.stack((a[exhausted], p[exhausted])))
      drawn.append((*triplets, np.full(len(triplets[0]), level, np.int64)))
      a, p = a[up], p[up]
    to_random.append(np.stack((a, p)))
  pending = np.concatenate(to_random, axis=1)
  drawn.append(negatives.random_triplets(pending[0], pending[1], names, config.seed, counts))
  return tuple(np.concatenate(column) for column in zip(*drawn))


def _labels(config, infos, names, counts) -> tuple:
  """`cluster_labels_beam.ClusterLabels`: (members, labels) arrays of ranks; writes classes.tsv."""
  level = sample_arrays.LevelArrays(infos.paths, config.level)
  clusters = list(level.codes)
  ranks = np.flatnonzero(level.cluster_of >= 0)
  hashes = hashing_vectorised.hash64(len(ranks), config.seed, "label", names[ranks])
  cluster = level.cluster_of[ranks]
  order = np.lexsort((hashes, cluster))
  ranks, hashes, cluster = ranks[order], hashes[order], cluster[order]
  tied = np.flatnonzero((cluster[1:] == cluster[:-1]) & (hashes[1:] == hashes[:-1]))
  for i in tied.tolist():  # equal hashes in one cluster: (hash, id) order, as the pairs sort
    j = i + 1
    while j > 0 and hashes[j - 1] == hashes[j] and cluster[j - 1] == cluster[j] and (
        infos.ids[ranks[j - 1]] > infos.ids[ranks[j]]):
      ranks[[j - 1, j]] = ranks[[j, j - 1]]
      j -= 1
  first = np.ones(len(ranks), bool)
  first[1:] = cluster[1:] != cluster[:-1]
  starts = np.flatnonzero(first)
  sizes = np.diff(np.append(starts, len(ranks)))
  small = sizes < config.min_cluster_size
  if small.any():
    counts["classes/dropped_small"] += int(small.sum())
    counts["items/in_dropped_classes"] += int(sizes[small].sum())
  starts, sizes = starts[~small], sizes[~small]
  kept_ids = [clusters[c] for c in cluster[starts].tolist()]
  label_of = {c: r for r, c in enumerate(item_infos.dense_ranks(kept_ids, config.seed,
                                                                 salt="label"))}
  labels = np.array([label_of[c] for c in kept_ids], np.int64)
  written = np.minimum(sizes, config.max_per_cluster)
  rows = list(zip(labels.tolist(), kept_ids, written.tolist(), sizes.tolist()))
  if len(starts):
    counts["classes/count"] += len(starts)
    counts["examples/total"] += int(written.sum())
  cluster_labels._write_classes((0, {"row": rows}),  # pylint: disable=protected-access
                                cluster_labels.classes_path(config.output_dir))
  for name, values in (("size", written), ("members", sizes)):
    if len(values):
      histogram = dict(zip(*(v.tolist() for v in np.unique(values, return_counts=True))))
      for key, value in cluster_labels._quantile_stats((name, histogram)):  # pylint: disable=protected-access
        counts[key] += value
  within = np.arange(int(written.sum())) - np.repeat(np.cumsum(written) - written, written)
  members = ranks[np.repeat(starts, written) + within]
  return members, np.repeat(labels, written)


def _write_validation_set(config, items: dict, edges, counts) -> None:
  """`validation_set_beam.WriteValidationSet`: the validation items and the edges between them."""
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
