"""`gcml examples`: training examples for GCML, CDML and CLC.

`--kind=smart` writes triplets whose negatives come from the anchor's sibling
clusters (DESIGN.md "Smart negatives"), `--kind=random` triplets with uniform
random negatives (CDML), both as `OUTPUT/triplets-*.tfrecord` (contract 5);
`--kind=labels` writes cluster-labelled examples `OUTPUT/examples-*.tfrecord`
and `OUTPUT/classes.tsv` (contract 6). Every run also writes
`OUTPUT/summary.json` (section `examples`) and `OUTPUT/rejected/examples-*.tsv`.

Examples use train items only (`pipelines/split.py`, shared with evaluation);
edges touching a test or validation item are not used. `--kind=validation`
writes the held-out validation items and their edges instead
(`pipelines/examples/validation_set.py`), for the trainer's model selection. Outputs are byte-identical for the
same inputs and seed, whatever the runner and the number of workers: every
random choice is a seeded hash of stable keys and every output is sorted.
See `pipelines/examples/` for the sampling schemes. The modalities are detected
from the feature records unless `--modalities` names them
(`pipelines/io/modalities.py`), and recorded in the summary for `gcml train`.
"""

import argparse
import dataclasses
import json
import logging

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipelines.io import edges as edges_lib
from pipelines.io import features as features_lib
from pipelines.io import inputs, modalities, rejected, sharded_io, summary
from pipelines import runner, split
from pipelines.errors import InputError
from pipelines.examples import cluster_labels, items, join_features, triplets, validation_set
from pipelines.io.cluster_tables import reader as tables
from pipelines.examples.config import KINDS, ExamplesConfig  # noqa: F401 (the stage's config)
from pipelines.examples.local import engine as local_engine

STAGE = "examples"


def _train_only(value, test_fraction, validation_fraction, name):
  part = split.split_of(value.id, test_fraction, validation_fraction)
  if part != "train":
    return [beam.pvalue.TaggedOutput("stats", (name.format(part=part), 1))]
  return [value]


def build(pipeline, config: ExamplesConfig, edge_paths, feature_paths, assignment_paths,
          levels: int):
  """Adds the examples pipeline to `pipeline`."""
  read_features = pipeline | "ReadFeatures" >> features_lib.ReadFeatures(
      feature_paths, config.modalities, STAGE)
  train = read_features.items | "TrainItems" >> beam.FlatMap(
      _train_only, config.test_fraction, config.validation_fraction,
      "items/{part}_with_features").with_outputs(
          "stats", main="items")
  stats = [read_features.stats, train.stats]
  rejections = [read_features.rejected]
  if config.kind == "validation":
    read_edges = pipeline | "ReadEdges" >> edges_lib.ReadEdges(
        edge_paths, edges_lib.edge_format_of(config.edges, config.edge_format),
        config.edge_combine, STAGE)
    written = ((read_features.items, read_edges.edges)
               | "WriteValidationSet" >> validation_set.WriteValidationSet(
                   config.output_dir, config.test_fraction, config.validation_fraction,
                   config.num_shards))
    _write_rejections_and_stats(config, [read_features.rejected, read_edges.rejected],
                                [read_features.stats, read_edges.stats, written.stats])
    return
  if config.kind == "random":
    assignments = pipeline | "NoTables" >> beam.Create([])
  else:
    read = pipeline | "ReadAssignments" >> tables.ReadAssignments(assignment_paths, levels, STAGE)
    rejections.append(read.rejected)
    kept = read.assignments | "TrainRows" >> beam.FlatMap(
        _train_only, config.test_fraction, config.validation_fraction,
        "items/{part}_in_tables").with_outputs(
            "stats", main="rows")
    assignments = kept.rows
    stats.append(kept.stats)
  ids = train.items | "TrainIds" >> beam.Map(lambda item: item.id)
  infos = (ids, assignments) | "ItemInfos" >> items.ItemInfos(
      config.seed, config.kind != "random", STAGE)
  stats += [infos.stats, infos.count | "CountTrain" >> beam.Map(
      lambda n: ("items/train_with_features", n))]
  rejections.append(infos.rejected)
  if config.kind == "labels":
    labels = infos.infos | "ClusterLabels" >> cluster_labels.ClusterLabels(
        config.level, config.max_per_cluster, config.min_cluster_size, config.seed,
        config.output_dir)
    encoded = ((labels.labels, train.items)
               | "EncodeLabelled" >> join_features.EncodeLabelled(config.modalities, config.seed))
    records = encoded.records
    stats += [labels.stats, encoded.stats]
  else:
    records, more_stats, more_rejections = triplets.build_triplets(
        pipeline, config, edge_paths, infos, train.items, levels, STAGE)
    stats += more_stats
    rejections += more_rejections
  _ = records | "WriteRecords" >> sharded_io.WriteSortedShards(
      config.output_prefix, ".tfrecord", config.num_shards, sharded_io.TFRECORD)
  _write_rejections_and_stats(config, rejections, stats)


def _write_rejections_and_stats(config, rejections, stats):
  rejection_counts = (tuple(rejections) | "AllRejections" >> beam.Flatten()
                      | "WriteRejected" >> rejected.WriteRejected(config.output_dir, STAGE))
  _ = ((*stats, rejection_counts) | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary.WriteStats(config.output_dir, STAGE))


def parse_args(argv):
  d = ExamplesConfig("smart", "", "")
  p = argparse.ArgumentParser(prog="gcml examples", description=__doc__.splitlines()[0])
  p.add_argument("--kind", required=True, choices=KINDS)
  p.add_argument("--edges", default="", help="edge files: glob(s), comma-separated")
  p.add_argument("--features", required=True, help="feature TFRecord glob(s)")
  p.add_argument("--clusters", default="", help="directory with assignments-*.tsv")
  p.add_argument("--output_dir", required=True)
  p.add_argument("--level", type=int, default=d.level,
                 help="smart: level of the negatives; labels: level of the classes")
  p.add_argument("--all_levels", action="store_true",
                 help="smart: a negative from every level for each (anchor, positive), each "
                 "with its level, for gcml train --level_schedule (curriculum)")
  p.add_argument("--positives_per_anchor", type=int, default=d.positives_per_anchor)
  p.add_argument("--num_triplets", type=int, default=d.num_triplets,
                 help="keep exactly this many triplets (0: all)")
  p.add_argument("--positive_sampling", default=d.positive_sampling,
                 choices=("weighted", "uniform"))
  p.add_argument("--max_per_cluster", type=int, default=d.max_per_cluster)
  p.add_argument("--min_cluster_size", type=int, default=d.min_cluster_size)
  p.add_argument("--seed", type=int, default=d.seed)
  p.add_argument("--reservoir_size", type=int, default=d.reservoir_size,
                 help="members kept per cluster sample")
  p.add_argument("--max_children", type=int, default=d.max_children,
                 help="child clusters kept per parent sample (levels >= 1)")
  p.add_argument("--negative_draws", type=int, default=d.negative_draws,
                 help="smart, levels >= 1: seeded draws per slot; the first that is not a "
                 "graph neighbour of the anchor is kept (all neighbours: random negative)")
  p.add_argument("--random_fraction", type=float, default=d.random_fraction,
                 help="smart: share of (anchor, positive) slots that get a random negative "
                 "instead (seeded per slot; level -1, counted as triplets/mixed_random)")
  p.add_argument("--cluster_id_level", type=int, default=d.cluster_id_level,
                 help="smart: also write anchor/cluster and positive/cluster, the cluster ids "
                 "at this level (for gcml train --mode=contrastive --cluster_masking); -1: none")
  p.add_argument("--cluster_positives", type=int, default=d.cluster_positives,
                 help="smart: per anchor, up to this many more positives drawn from its L0 "
                 "cluster (seeded), besides its graph neighbours")
  p.add_argument("--num_shards", type=int, default=d.num_shards)
  p.add_argument("--test_fraction", type=float, default=d.test_fraction,
                 help="cold-start test share (must match clustering and evaluation)")
  p.add_argument("--validation_fraction", type=float, default=d.validation_fraction,
                 help="share of items held out of training for model selection")
  p.add_argument("--hot_threshold", type=int, default=d.hot_threshold,
                 help="records per join key above which a key is split")
  p.add_argument("--edge_format", default=d.edge_format, help="csv|tsv|tfrecord|auto")
  p.add_argument("--edge_combine", default=d.edge_combine, choices=("max", "sum"))
  p.add_argument("--modalities", default=None,
                 help="feature vectors as name:dim,name:dim (default: detected from the "
                 "records)")
  p.add_argument("--engine", default=d.engine, choices=("beam", "local"), help="docs/engines.md")
  a, pipeline_args = runner.parse_stage_args(p, argv)
  config = ExamplesConfig(
      kind=a.kind, features=a.features, output_dir=a.output_dir, edges=a.edges,
      clusters=a.clusters, level=a.level, all_levels=a.all_levels,
      positives_per_anchor=a.positives_per_anchor,
      num_triplets=a.num_triplets, positive_sampling=a.positive_sampling,
      max_per_cluster=a.max_per_cluster, min_cluster_size=a.min_cluster_size, seed=a.seed,
      reservoir_size=a.reservoir_size, max_children=a.max_children,
      negative_draws=a.negative_draws, random_fraction=a.random_fraction,
      cluster_id_level=a.cluster_id_level, cluster_positives=a.cluster_positives,
      num_shards=a.num_shards,
      test_fraction=a.test_fraction, validation_fraction=a.validation_fraction,
      hot_threshold=a.hot_threshold, edge_format=a.edge_format,
      edge_combine=a.edge_combine, modalities=modalities.parse_flag(a.modalities),
      engine=a.engine)
  config.validate()
  return config, pipeline_args


def _extra(config: ExamplesConfig, levels: int) -> dict:
  extra = {"kind": config.kind, "seed": config.seed,
           "split": split.describe(config.test_fraction, config.validation_fraction),
           "features_glob": config.features, "num_shards": config.num_shards,
           "modalities": features_lib.modalities_flag(config.modalities)}
  if config.kind in ("smart", "labels"):
    extra.update(clusters_dir=config.clusters, levels=levels, level=config.level)
  if config.kind == "validation":
    extra.update(edges_glob=config.edges)
  elif config.kind == "labels":
    extra.update(max_per_cluster=config.max_per_cluster,
                 min_cluster_size=config.min_cluster_size)
  else:
    extra.update(edges_glob=config.edges, positives_per_anchor=config.positives_per_anchor,
                 positive_sampling=config.positive_sampling,
                 num_triplets_cap=config.num_triplets)
  if config.kind == "smart":
    extra.update(reservoir_size=config.reservoir_size, max_children=config.max_children,
                 negative_draws=config.negative_draws, random_fraction=config.random_fraction,
                 all_levels=config.all_levels)
    if config.cluster_id_level >= 0 or config.cluster_positives:
      extra.update(cluster_id_level=config.cluster_id_level,
                   cluster_positives=config.cluster_positives)
  return extra


def run(argv=None) -> dict:
  """Runs `gcml examples`; returns the `examples` section of summary.json."""
  config, pipeline_args = parse_args(argv)
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  config = dataclasses.replace(config, modalities=modalities.resolve(config.modalities,
                                                                     feature_paths))
  edge_paths, assignment_paths, levels = [], [], 0
  if config.kind != "labels":
    edge_format = edges_lib.edge_format_of(config.edges, config.edge_format)
    edge_paths = inputs.check_files(config.edges, "--edges", edge_format == "tfrecord")
  if config.kind not in ("random", "validation"):
    assignment_paths = tables.assignment_files(config.clusters)
    levels = tables.num_levels(assignment_paths)
    tables.check_cluster_split(config.clusters, config.test_fraction,
                               config.validation_fraction)
    for flag, value in (("--level", config.level), ("--cluster_id_level", config.cluster_id_level)):
      if value >= levels:
        raise InputError(f"{flag}={value} but the cluster tables have {levels} "
                         f"level(s) (l0..l{levels - 1})")
  options = runner.pipeline_options(pipeline_args)
  dry_run = runner.is_dry_run(options) and config.engine == "beam"
  if not dry_run:
    sharded_io.ensure_dir(config.output_dir)
    for prefix, suffix in (("triplets", ".tfrecord"), ("examples", ".tfrecord"),
                           (validation_set.ITEMS, ".tfrecord"), (validation_set.EDGES, ".tsv")):
      sharded_io.remove_shards(FileSystems.join(config.output_dir, prefix), suffix)
    stale_classes = cluster_labels.classes_path(config.output_dir)
    if config.kind != "labels" and FileSystems.exists(stale_classes):
      FileSystems.delete([stale_classes])
  if config.engine == "local":
    local_engine.run_local(config, edge_paths, feature_paths, assignment_paths, levels, STAGE)
  else:
    pipeline = beam.Pipeline(options=options)
    build(pipeline, config, edge_paths, feature_paths, assignment_paths, levels)
    runner.run(pipeline, "gcml examples")
  if dry_run:
    return {}
  section = summary.merge_stats_into_summary(config.output_dir, STAGE, _extra(config, levels))
  logging.info("examples: %s", json.dumps(section, sort_keys=True))
  if config.kind == "validation":
    print(f"examples: {section.get('validation/items', 0)} validation items with "
          f"{section.get('validation/edges', 0)} edges between them; see "
          f"{config.output_dir}/summary.json")
  elif config.kind == "labels":
    print(f"examples: {section.get('examples/total', 0)} labelled examples in "
          f"{section.get('classes/count', 0)} classes; see {config.output_dir}/summary.json")
  else:
    print(f"examples: {section.get('triplets/total', 0)} {config.kind} triplets from "
          f"{section.get('anchors', 0)} anchors; see {config.output_dir}/summary.json")
  return section
