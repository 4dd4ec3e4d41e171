"""The triplet branch of `gcml examples`: smart (GCML) and random (CDML).

Flow: edges -> anchors with positives (`positives_beam.SampleAnchors`, hot items
bounded by a combiner and `SkewJoin`) -> optional exact cap
(`positives_beam.CapTriplets`) -> smart negatives level by level with exact,
counted fall-backs (`smart_negatives_beam.SmartNegatives`) -> random negatives
for CDML and for anchors whose pools are empty up to the top
(`random_negatives.RandomNegatives`) -> features attached and encoded
(`join_features_beam.EncodeTriplets`). Optional, for cluster-aware contrastive
learning (docs/contrastive.md): more positives from the anchor's cluster
(`cluster_positives.AddClusterPositives`, `--cluster_positives`) and the
anchor's and positive's cluster ids in the records (`--cluster_id_level`).
"""

import apache_beam as beam

from pipelines.io import edges_beam as edges_lib
from pipelines import hashing
from pipelines.examples import (cluster_positives, items_beam, join_features_beam, positives_beam,
                                random_negatives, reservoirs_beam, smart_negatives_beam)


def build_triplets(pipeline, config, edge_paths, infos, train_items, levels: int, stage: str):
  """Adds the triplet branch (smart or random) to `pipeline`.

  Args:
    pipeline: the pipeline.
    config: the `ExamplesConfig` of the run.
    edge_paths: edge files (already checked).
    infos: `items_beam.ItemInfosResult` of the train items with features.
    train_items: the train `Item`s (features to attach).
    levels: number of levels of the cluster tables (0 for random).
    stage: stage name for rejections.

  Returns:
    (records: (sort key, serialized Example), stats PCollections, rejection PCollections).
  """
  smart = config.kind == "smart"
  read_edges = pipeline | "ReadEdges" >> edges_lib.ReadEdges(
      edge_paths, config.edge_format, config.edge_combine, stage)
  stats, rejections = [read_edges.stats], [read_edges.rejected]
  item_infos = infos.infos
  samples = {}
  if smart:
    clustered = infos.infos | "WithCluster" >> beam.Filter(lambda i: i.path is not None)
    if config.level == 0 or config.all_levels or config.cluster_positives:
      samples[0] = clustered | "L0Samples" >> reservoirs_beam.L0Samples(config.seed,
                                                                   config.reservoir_size)
      item_infos = (infos.infos, samples[0]) | "FlagL0" >> items_beam.FlagL0Reservoirs()
    for level in range(1 if config.all_levels else max(1, config.level), levels):
      samples[level] = clustered | f"L{level}Samples" >> reservoirs_beam.ParentSamples(
          level, config.seed, config.reservoir_size, config.max_children)
  sampled = (item_infos, read_edges.edges) | "Anchors" >> positives_beam.SampleAnchors(
      config.positives_per_anchor, config.positive_sampling == "weighted", config.seed, smart,
      config.test_fraction, config.hot_threshold, config.validation_fraction)
  anchors = sampled.anchors
  stats.append(sampled.stats)
  if config.cluster_positives:
    added = ((anchors, samples[0], infos.infos)
             | "ClusterPositives" >> cluster_positives.AddClusterPositives(
                 config.cluster_positives, config.seed))
    anchors = added.anchors
    stats.append(added.stats)
  stats.append(anchors | "CountSlots" >> beam.FlatMapTuple(lambda _, a: [
      ("anchors", 1), ("triplets/before_cap", len(a.positives))]))
  if config.num_triplets:
    anchors = anchors | "Cap" >> positives_beam.CapTriplets(config.num_triplets, config.seed)
  triplets = []
  to_random = anchors
  if smart and config.random_fraction > 0:
    mixed = anchors | "MixRandom" >> beam.FlatMap(
        _mix_random, config.random_fraction, config.seed).with_outputs(
            "random", "stats", main="smart")
    anchors, stats = mixed.smart, stats + [mixed.stats]
  if smart:
    # --all_levels: every slot gets a negative from each start level (for the
    # trainer's level curriculum); identical triplets (a fall-back that lands
    # on the next start level's draw) are written once.
    pending = []
    for start in (range(levels) if config.all_levels else [config.level]):
      label = "SmartNegatives" + (f"FromL{start}" if config.all_levels else "")
      drawn = ((anchors, samples, read_edges.edges)
               | label >> smart_negatives_beam.SmartNegatives(
                   start, levels, config.seed, config.hot_threshold, config.negative_draws))
      triplets.append(drawn.triplets)
      stats.append(drawn.stats)
      pending.append(drawn.pending)
    to_random = (pending[0] if len(pending) == 1 else
                 tuple(pending) | "AllPending" >> beam.Flatten())
    if config.random_fraction > 0:
      to_random = (to_random, mixed.random) | "WithMixedRandom" >> beam.Flatten()
  drawn = ((to_random, infos.ranked_ids, infos.count)
           | "RandomNegatives" >> random_negatives.RandomNegatives(config.seed))
  triplets.append(drawn.triplets)
  stats.append(drawn.stats)
  if config.cluster_id_level >= 0:
    train_items = ((train_items, infos.infos)
                   | "WithClusterIds" >> join_features_beam.WithClusterIds(config.cluster_id_level))
  encoded = ((tuple(triplets) | "AllTriplets" >> beam.Flatten(), train_items)
             | "EncodeTriplets" >> join_features_beam.EncodeTriplets(
                 config.modalities, config.seed, config.hot_threshold))
  stats.append(encoded.stats)
  return encoded.records, stats, rejections


def _mix_random(kv, fraction: float, seed: int):
  """Sends each (anchor, positive) slot to a random negative with probability `fraction`.

  The choice is a seeded hash of the slot, so it is the same on every runner.
  """
  anchor_id, anchor = kv
  chosen = [p for p in anchor.positives
            if hashing.uniform(seed, "mix_random", anchor_id, p[0]) < fraction]
  if chosen:
    yield beam.pvalue.TaggedOutput("stats", ("triplets/mixed_random", len(chosen)))
    yield beam.pvalue.TaggedOutput("random", (anchor_id, anchor._replace(positives=tuple(chosen))))
  if len(chosen) < len(anchor.positives):
    yield (anchor_id, anchor._replace(
        positives=tuple(p for p in anchor.positives if p not in chosen)))
