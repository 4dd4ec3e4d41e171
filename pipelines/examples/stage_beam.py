"""`gcml examples` on Beam: `build` and its transforms.

Kept apart from `stage` so that `gcml examples --engine=local` runs without
importing Beam (`pipelines/beam_parts.py`).
"""

import apache_beam as beam

from pipelines import split
from pipelines.examples import (cluster_labels_beam, items_beam, join_features_beam, stage,
                                triplets, validation_set_beam)
from pipelines.examples.config import ExamplesConfig
from pipelines.io import edges_beam as edges_lib
from pipelines.io import features_beam, rejected_beam, sharded_io, sharded_io_beam, summary_beam
from pipelines.io.cluster_tables import reader_beam


def _train_only(value, test_fraction, validation_fraction, name):
  part = split.split_of(value.id, test_fraction, validation_fraction)
  if part != "train":
    return [beam.pvalue.TaggedOutput("stats", (name.format(part=part), 1))]
  return [value]


def build(pipeline, config: ExamplesConfig, edge_paths, feature_paths, assignment_paths,
          levels: int):
  """Adds the examples pipeline to `pipeline`.

  Args:
    pipeline: the pipeline.
    config: the stage's config (edge format and modalities resolved).
    edge_paths: the edge files (none for `--kind=labels`).
    feature_paths: the feature files.
    assignment_paths: the cluster assignment files (none for random and validation).
    levels: the cluster tables' levels.
  """
  read_features = pipeline | "ReadFeatures" >> features_beam.ReadFeatures(
      feature_paths, config.modalities, stage.STAGE)
  train = read_features.items | "TrainItems" >> beam.FlatMap(
      _train_only, config.test_fraction, config.validation_fraction,
      "items/{part}_with_features").with_outputs(
          "stats", main="items")
  stats = [read_features.stats, train.stats]
  rejections = [read_features.rejected]
  if config.kind == "validation":
    read_edges = pipeline | "ReadEdges" >> edges_lib.ReadEdges(
        edge_paths, config.edge_format, config.edge_combine, stage.STAGE)
    written = ((read_features.items, read_edges.edges)
               | "WriteValidationSet" >> validation_set_beam.WriteValidationSet(
                   config.output_dir, config.test_fraction, config.validation_fraction,
                   config.num_shards))
    _write_rejections_and_stats(config, [read_features.rejected, read_edges.rejected],
                                [read_features.stats, read_edges.stats, written.stats])
    return
  if config.kind == "random":
    assignments = pipeline | "NoTables" >> beam.Create([])
  else:
    read = pipeline | "ReadAssignments" >> reader_beam.ReadAssignments(assignment_paths, levels,
                                                                  stage.STAGE)
    rejections.append(read.rejected)
    kept = read.assignments | "TrainRows" >> beam.FlatMap(
        _train_only, config.test_fraction, config.validation_fraction,
        "items/{part}_in_tables").with_outputs(
            "stats", main="rows")
    assignments = kept.rows
    stats.append(kept.stats)
  ids = train.items | "TrainIds" >> beam.Map(lambda item: item.id)
  infos = (ids, assignments) | "ItemInfos" >> items_beam.ItemInfos(
      config.seed, config.kind != "random", stage.STAGE)
  stats += [infos.stats, infos.count | "CountTrain" >> beam.Map(
      lambda n: ("items/train_with_features", n))]
  rejections.append(infos.rejected)
  if config.kind == "labels":
    labels = infos.infos | "ClusterLabels" >> cluster_labels_beam.ClusterLabels(
        config.level, config.max_per_cluster, config.min_cluster_size, config.seed,
        config.output_dir)
    encoded = ((labels.labels, train.items)
               | "EncodeLabelled" >> join_features_beam.EncodeLabelled(config.modalities, config.seed))
    records = encoded.records
    stats += [labels.stats, encoded.stats]
  else:
    records, more_stats, more_rejections = triplets.build_triplets(
        pipeline, config, edge_paths, infos, train.items, levels, stage.STAGE)
    stats += more_stats
    rejections += more_rejections
  _ = records | "WriteRecords" >> sharded_io_beam.WriteSortedShards(
      config.output_prefix, ".tfrecord", config.num_shards, sharded_io.TFRECORD)
  _write_rejections_and_stats(config, rejections, stats)


def _write_rejections_and_stats(config, rejections, stats):
  rejection_counts = (tuple(rejections) | "AllRejections" >> beam.Flatten()
                      | "WriteRejected" >> rejected_beam.WriteRejected(config.output_dir, stage.STAGE))
  _ = ((*stats, rejection_counts) | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary_beam.WriteStats(config.output_dir, stage.STAGE))
