"""`gcml validate --engine=local`: the validation stage in memory, the Beam engine's bytes.

Edges are read by `io.edges_local.read_edges_local` and features by
`io.features.read_features_local` (frame-level files, `--frames`, by
`io.frame_validation.read_frames_local`), which apply the rules of
`edges.ReadEdges` and `features.ReadFeatures` (`ReadFrameFeatures`); the rejected records, the stats
file and hence `summary.json` equal what `validate.build` writes.
"""

import collections

import numpy as np

from pipelines.io import edges_local as local_io
from pipelines.io import features as features_lib
from pipelines.io import frame_validation, rejected, summary


def endpoint_counts(edges, item_ids) -> dict:
  """`validate.CountEndpointsWithoutFeatures`: endpoints without features, items without edges.

  Args:
    edges: the run's `LocalEdges`.
    item_ids: the ids of the items with features.

  Returns:
    {counter name: count}, as the Beam transform counts them.
  """
  used = np.unique(np.concatenate((edges.src, edges.dst))) if len(edges.src) else []
  endpoints = {edges.ids[i] for i in np.asarray(used).tolist()}
  counts = {}
  missing = len(endpoints - item_ids)
  if missing:
    counts["edges/endpoints_without_features"] = missing
  alone = len(item_ids - endpoints)
  if alone:
    counts["features/items_without_edges"] = alone
  return counts


def run_local(config, edge_paths: list, feature_paths: list, stage: str,
              frame_paths: list = ()) -> None:
  """Validates the inputs of `config` (a `ValidateConfig`) in memory.

  Writes `rejected/<stage>-*.tsv` and the stats file that
  `summary.merge_stats_into_summary` folds into `summary.json`.

  Args:
    config: the run's configuration.
    edge_paths: edge files (checked).
    feature_paths: feature TFRecord files (checked).
    stage: stage name for rejections and stats.
    frame_paths: frame-level files (checked), `--frames`.
  """
  edges = local_io.read_edges_local(edge_paths, config.edge_format, config.edge_combine, stage)
  features = features_lib.read_features_local(feature_paths, config.modalities, stage,
                                        config.max_abs_feature)
  counts = collections.Counter(edges.stats)
  if len(edges.src):
    counts["edges/under_min_weight"] += 0
  counts.update(features.stats)
  counts.update(endpoint_counts(edges, set(features.items)))
  frame_rejections = []
  if frame_paths:
    frames = frame_validation.read_frames_local(list(frame_paths), config.frame_modalities,
                                                stage, config.max_abs_feature)
    counts.update(frames.stats)
    frame_rejections = frames.rejections
  counts.update(rejected.write_rejected_local(config.output_dir, stage,
                                              edges.rejections + features.rejections
                                              + frame_rejections))
  summary.write_stats_local(config.output_dir, stage, counts)
