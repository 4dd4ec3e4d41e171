"""`gcml validate` on Beam: `build` and its transforms.

Kept apart from `stage` so that `gcml validate --engine=local` runs without
importing Beam (`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.io import edges_beam as edges_lib
from pipelines.io import features_beam, frame_validation_beam, rejected_beam, summary_beam
from pipelines.validate import stage


@dataclasses.dataclass
class CountEndpointsWithoutFeatures(beam.PTransform):
  """Counts edge endpoints that have no feature record (they are kept)."""

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    edges, items = pcolls
    endpoints = (edges
                 | "Endpoints" >> beam.FlatMap(lambda e: [(e.src, 1), (e.dst, 1)])
                 | "DistinctEndpoints" >> beam.CombinePerKey(sum))
    with_features = items | "ItemIds" >> beam.Map(lambda item: (item.id, 1))
    return ({"edge": endpoints, "features": with_features}
            | "JoinIdsToFeatures" >> beam.CoGroupByKey()
            | "CountMissing" >> beam.FlatMapTuple(lambda _, g: (
                [("edges/endpoints_without_features", 1)] if g["edge"] and not g["features"]
                else [("features/items_without_edges", 1)] if not g["edge"] else [])))


def build(pipeline: beam.Pipeline, config: stage.ValidateConfig, edge_paths, feature_paths,
          frame_paths=()):
  """Adds the validation pipeline to `pipeline`: read and check, write rejected and counts.

  Args:
    pipeline: the pipeline.
    config: the stage's config (edge format and modalities resolved).
    edge_paths: the edge files.
    feature_paths: the feature files.
    frame_paths: the frame-level feature files (none: no frame-level checks).
  """
  read_edges = pipeline | "ReadEdges" >> edges_lib.ReadEdges(
      edge_paths, config.edge_format, config.edge_combine, stage.STAGE)
  read_features = pipeline | "ReadFeatures" >> features_beam.ReadFeatures(
      feature_paths, config.modalities, stage.STAGE, max_abs_feature=config.max_abs_feature)
  rejected_parts, stats_parts = [read_edges.rejected, read_features.rejected], []
  if frame_paths:
    read_frames = pipeline | "ReadFrames" >> frame_validation_beam.ReadFrameFeatures(
        list(frame_paths), config.frame_modalities, stage.STAGE, config.max_abs_feature)
    rejected_parts.append(read_frames.rejected)
    stats_parts.append(read_frames.stats)
  rejections = tuple(rejected_parts) | "AllRejections" >> beam.Flatten()
  rejection_counts = rejections | "WriteRejected" >> rejected_beam.WriteRejected(
      config.output_dir, stage.STAGE)
  missing = ((read_edges.edges, read_features.items)
             | "EndpointsWithoutFeatures" >> CountEndpointsWithoutFeatures())
  _ = ((read_edges.stats, read_features.stats, rejection_counts, missing, *stats_parts)
       | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary_beam.WriteStats(config.output_dir, stage.STAGE))
