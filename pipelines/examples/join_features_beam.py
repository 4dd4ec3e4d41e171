"""The Beam transforms of `join_features`.

Kept apart so that the in-memory engines import `join_features` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam
import numpy as np

from pipelines import hashing
from pipelines.examples import join_features
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD
from pipelines.examples.skew_join_beam import SkewJoin


def _feature_bytes(item):
  """(id, {modality: little-endian float32 bytes}): cheap to shuffle, exact."""
  return item.id, {name: v if name == join_features.CLUSTER_KEY else np.asarray(v, "<f4").tobytes()
                   for name, v in item.features.items()}


def _with_cluster(kv, level: int):
  _, grouped = kv
  infos = list(grouped["info"])
  path = infos[0][2] if infos else None  # ItemInfo.path
  cluster = path[level] if path is not None else ""
  for item in grouped["item"]:
    yield item._replace(features={**item.features, join_features.CLUSTER_KEY: cluster})


@dataclasses.dataclass
class WithClusterIds(beam.PTransform):
  """(Item, ItemInfo) -> Item whose features also hold its level-`level` cluster id.

  Attributes:
    level: the cluster level; an item without a cluster path gets "".
  """
  level: int

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    items, infos = pcolls
    return ({"item": items | "KeyItem" >> beam.Map(lambda i: (i.id, i)),
             "info": infos | "KeyInfo" >> beam.Map(lambda i: (i[0], tuple(i)))}
            | "JoinInfo" >> beam.CoGroupByKey()
            | "SetCluster" >> beam.FlatMap(_with_cluster, self.level))


def _references(triplet, seed):
  key = (hashing.order_key(seed, triplet.anchor, triplet.positive), triplet.anchor,
         triplet.positive, triplet.negative, triplet.level)
  return [(member, (key, role)) for role, member in enumerate(key[1:4])]


class _Encode(beam.DoFn):

  def __init__(self, modalities):
    self._modalities = tuple(modalities)

  def process(self, kv):
    key, parts = kv
    parts = list(parts)
    order, anchor, positive, negative, level = key
    features, clusters = [None, None, None], [None, None, None]
    for role, feats in parts:
      if feats is not None:
        clusters[role] = feats.get(join_features.CLUSTER_KEY)
        features[role] = {name: np.frombuffer(data, "<f4") for name, data in feats.items()
                          if name != join_features.CLUSTER_KEY}
    if any(f is None for f in features):
      yield beam.pvalue.TaggedOutput("stats", ("skipped/missing_features", 1))
      return
    if len(parts) > 3:
      # The same triplet drawn twice (--all_levels): written once, counted.
      yield beam.pvalue.TaggedOutput("stats",
                                     ("triplets/duplicates_merged", len(parts) // 3 - 1))
    yield beam.pvalue.TaggedOutput("stats", (f"triplets/{join_features.level_name(level)}", 1))
    yield beam.pvalue.TaggedOutput("stats", ("triplets/total", 1))
    yield (f"{order}|{anchor}|{positive}",
           join_features.triplet_record((anchor, positive, negative), level, features,
                                        self._modalities,
                                        None if clusters[0] is None else clusters[:2]))


class EncodedResult(NamedTuple):
  records: beam.PCollection  # (sort key, serialized Example)
  stats: beam.PCollection


@dataclasses.dataclass
class EncodeTriplets(beam.PTransform):
  """(Triplet, Item) -> (sort key, contract-5 record).

  Attributes:
    modalities: the feature vectors to copy under each role.
    seed: the run's seed (output order).
    hot_threshold: see `SkewJoin`.
  """
  modalities: tuple
  seed: int
  hot_threshold: int = DEFAULT_HOT_THRESHOLD

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    triplets, items = pcolls
    references = triplets | "References" >> beam.FlatMap(_references, self.seed)
    features = items | "FeaturesById" >> beam.Map(_feature_bytes)
    encoded = ((features, references)
               | "JoinFeatures" >> SkewJoin(self.hot_threshold)
               | "ByTriplet" >> beam.MapTuple(lambda ref, feats: (ref[0], (ref[1], feats)))
               | "GroupTriplet" >> beam.GroupByKey()
               | "Encode" >> beam.ParDo(_Encode(self.modalities)).with_outputs(
                   "stats", main="records"))
    return EncodedResult(encoded.records, encoded.stats)


class _EncodeLabelled(beam.DoFn):

  def __init__(self, modalities, seed):
    self._modalities = tuple(modalities)
    self._seed = seed

  def process(self, kv):
    item_id, grouped = kv
    for label in grouped["label"]:
      if not grouped["item"]:
        yield beam.pvalue.TaggedOutput("stats", ("skipped/missing_features", 1))
        continue
      yield (f"{hashing.order_key(self._seed, item_id)}|{item_id}",
             join_features.labelled_record(item_id, label, grouped["item"][0].features,
                                           self._modalities))


@dataclasses.dataclass
class EncodeLabelled(beam.PTransform):
  """((id, label), Item) -> (sort key, contract-6 record). Ids are unique."""
  modalities: tuple
  seed: int

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    labels, items = pcolls
    encoded = ({"label": labels, "item": items | "KeyItem" >> beam.Map(lambda i: (i.id, i))}
               | "JoinFeatures" >> beam.CoGroupByKey()
               | "Encode" >> beam.ParDo(_EncodeLabelled(self.modalities, self.seed))
               .with_outputs("stats", main="records"))
    return EncodedResult(encoded.records, encoded.stats)
