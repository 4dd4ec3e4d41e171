"""`gcml validate --engine=local`: the validation stage in memory, the Beam engine's bytes.

Edges are read by `io.edges_local.read_edges_local` and features by
`io.record_checks.read_checked_ids_local` with `features.feature_checks` (only
the ids are kept; frame-level files, `--frames`, by
`io.frame_validation.read_frames_local`), which apply the rules of
`edges_beam.ReadEdges` and `features_beam.ReadFeatures` (`frame_validation_beam.ReadFrameFeatures`);
the rejected records, the stats file and hence `summary.json` equal what
`validate.stage_beam.build` writes.
"""

import collections
import functools

import numpy as np

from pipelines.io import edges_local as local_io
from pipelines.io import features as features_lib
from pipelines.io import frame_validation, record_checks, rejected, summary


def endpoint_counts(edges, item_ids) -> dict:
  """`validate.CountEndpointsWithoutFeatures`: endpoints without features, items without edges.

  Args:
    edges: the run's `LocalEdges` (its ids unique).
    item_ids: the ids of the items with features (a set or a dict).

  Returns:
    {counter name: count}, as the Beam transform counts them.
  """
  used = np.zeros(len(edges.ids), bool)
  used[edges.src] = True
  used[edges.dst] = True
  with_features = np.fromiter((x in item_ids for x in edges.ids), bool, len(edges.ids))
  counts = {}
  missing = int(np.count_nonzero(used & ~with_features))
  if missing:
    counts["edges/endpoints_without_features"] = missing
  alone = len(item_ids) - int(np.count_nonzero(used & with_features))
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
  with local_io.small_pages():
    _run_local(config, edge_paths, feature_paths, stage, frame_paths)


def _run_local(config, edge_paths: list, feature_paths: list, stage: str,
               frame_paths: list) -> None:
  edges = local_io.read_edges_local(edge_paths, config.edge_format, config.edge_combine, stage)
  item_ids, feature_rejections, feature_stats = record_checks.read_checked_ids_local(
      feature_paths, features_lib.feature_checks(config.modalities,
                                                 max_abs=config.max_abs_feature), stage,
      functools.partial(features_lib.parse_items, modalities=config.modalities,
                        max_abs=config.max_abs_feature, ids_only=True))
  counts = collections.Counter(edges.stats)
  if len(edges.src):
    counts["edges/under_min_weight"] += 0
  counts.update(feature_stats)
  counts.update(endpoint_counts(edges, item_ids))
  frame_rejections = []
  if frame_paths:
    frames = frame_validation.read_frames_local(list(frame_paths), config.frame_modalities,
                                                stage, config.max_abs_feature)
    counts.update(frames.stats)
    frame_rejections = frames.rejections
  counts.update(rejected.write_rejected_local(config.output_dir, stage,
                                              edges.rejections + feature_rejections
                                              + frame_rejections))
  summary.write_stats_local(config.output_dir, stage, counts)
