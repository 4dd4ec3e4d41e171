"""`gcml cluster` on Beam: `build` and its transforms.

Kept apart from `stage` so that `gcml cluster --engine=local` runs without
importing Beam (`pipelines/beam_parts.py`).
"""

import apache_beam as beam

from pipelines import split
from pipelines.clustering import STAGE, hierarchy_beam, similarity_beam
from pipelines.clustering.config import ClusterConfig
from pipelines.io import edges_beam as edges_lib
from pipelines.io import rejected_beam, summary_beam
from pipelines.io.cluster_tables import writer_beam


def _train_train(test_fraction: float, validation_fraction: float):
  def side(edge):
    parts = {split.split_of(i, test_fraction, validation_fraction) for i in (edge.src, edge.dst)}
    if parts == {"train"}:
      return [edge]
    held_out = "test" if "test" in parts else "validation"
    return [beam.pvalue.TaggedOutput("touching_test", (f"edges/touching_{held_out}", 1))]
  return side


def _by_min_weight(min_weight: float):
  def side(e):
    if e.weight >= min_weight:
      return [(e.src, e.dst, e.weight, 1, 1)]
    return [beam.pvalue.TaggedOutput("ignored", (e.src, e.dst))]
  return side


def build(pipeline: beam.Pipeline, config: ClusterConfig, paths: list, edge_format: str,
          passes: list, num_shards: int, partitions: int) -> None:
  """The whole Beam job: read, split, weights, all rounds, tables, rejected records, stats.

  Args:
    pipeline: the pipeline to add the job to.
    config: the stage's config.
    paths: the edge files.
    edge_format: csv, tsv or tfrecord.
    passes: pointer-jumping passes per round.
    num_shards: shards of each cluster table.
    partitions: exchange partitions (`partitioned.py`).
  """
  read = pipeline | "ReadEdges" >> edges_lib.ReadEdges(
      paths, edge_format, config.edge_combine, STAGE, min_weight=0.0)
  graph, counted = read.edges, [read.stats]
  if not config.cluster_all_edges:
    sides = graph | "SplitTrainTest" >> beam.FlatMap(
        _train_train(config.test_fraction, config.validation_fraction)).with_outputs(
            "touching_test", main="train")
    graph = sides.train
    counted.append(sides.touching_test)
  if config.similarity != "weight":
    graph = graph | "Similarity" >> similarity_beam.SimilarityWeights(
        config.similarity, partitions)
  sides = graph | "SplitByMinWeight" >> beam.FlatMap(
      _by_min_weight(config.min_weight)).with_outputs("ignored", main="kept")
  counted.append(sides.ignored | "UnderMinWeight" >> beam.Map(
      lambda _: ("edges/under_min_weight", 1)))
  assignments, round_stats = ((sides.kept, sides.ignored)
                              | "AffinityClustering" >> hierarchy_beam.AffinityClustering(
                                  config.levels, passes, partitions, config.seed,
                                  config.linkage, config.max_cluster_size, config.first_round,
                                  config.target_l0_size))
  _ = assignments | "WriteTables" >> writer_beam.WriteClusterTables(
      config.output_dir, config.levels, num_shards)
  counted.append(read.rejected | "WriteRejected" >> rejected_beam.WriteRejected(
      config.output_dir, STAGE))
  _ = ((*counted, round_stats)
       | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary_beam.WriteStats(config.output_dir, STAGE))
