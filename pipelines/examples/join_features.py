"""Attaching features to triplets, and the record layouts (contracts 5 and 6).

Every triplet is split into three references (anchor, positive, negative),
each keyed by the member's id and joined to that item's features with a
`SkewJoin` (an item picked by many triplets, e.g. a popular positive, is
fanned out), then the three parts are grouped back by the triplet's key and
encoded. A triplet whose member has no features is skipped and counted as
`skipped/missing_features` (the samplers only pick items with features, so
this stays 0 unless the inputs change between stages).

Records are `tf.train.Example`s written with `tf_example.encode` (sorted
feature names, so the bytes are deterministic). With `--cluster_id_level`,
`WithClusterIds` first gives each item its cluster id at that level (empty
for an item without a table row), carried with its features under
`CLUSTER_KEY`, and the records gain `anchor/cluster` and `positive/cluster`;
without it the records are byte for byte what they were. Output sort keys are seeded
hashes, so shards are shuffled rather than sorted by id.
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam
import numpy as np

from pipelines.io import tf_example
from pipelines import hashing
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD, SkewJoin

ROLES = ("anchor", "positive", "negative")
CLUSTER_ROLES = ("anchor", "positive")  # the roles whose cluster id a record carries
CLUSTER_KEY = "/cluster"  # no modality name starts with "/"


def level_name(level: int) -> str:
  """
  Args:
    level: a triplet's level (-1: random).

  Returns:
    Its name in counts (`level_0`, ..., `random`).
  """
  return "random" if level < 0 else f"level_{level}"


def triplet_record(ids, level: int, features_by_role, modalities, clusters=None) -> bytes:
  """Contract 5: `<role>/id`, `<role>/<modality>` for each role, and `level`.

  Args:
    ids: (anchor, positive, negative) ids.
    level: the level the negative was drawn from (-1: random).
    features_by_role: {modality: vector} for each role.
    modalities: the modalities to write.
    clusters: optional (anchor, positive) cluster ids: written as the
      optional fields `anchor/cluster` and `positive/cluster` (bytes).

  Returns:
    The serialized `tf.train.Example`.
  """
  record = {"level": [int(level)]}
  if clusters is not None:
    for role, cluster in zip(CLUSTER_ROLES, clusters):
      record[f"{role}/cluster"] = cluster
  for role, item_id, features in zip(ROLES, ids, features_by_role):
    record[f"{role}/id"] = item_id
    for m in modalities:
      record[f"{role}/{m.name}"] = features[m.name]
  return tf_example.encode(record)


def labelled_record(item_id: str, label: int, features, modalities) -> bytes:
  """Contract 6: `id`, each modality, and `label` (dense class index).

  Args:
    item_id: the item.
    label: its dense class index.
    features: modality name -> vector.
    modalities: the modalities, in order.

  Returns:
    The serialized tf.train.Example.
  """
  record = {"id": item_id, "label": [int(label)]}
  for m in modalities:
    record[m.name] = features[m.name]
  return tf_example.encode(record)


def _feature_bytes(item):
  """(id, {modality: little-endian float32 bytes}): cheap to shuffle, exact."""
  return item.id, {name: v if name == CLUSTER_KEY else np.asarray(v, "<f4").tobytes()
                   for name, v in item.features.items()}


def _with_cluster(kv, level: int):
  _, grouped = kv
  infos = list(grouped["info"])
  path = infos[0][2] if infos else None  # ItemInfo.path
  cluster = path[level] if path is not None else ""
  for item in grouped["item"]:
    yield item._replace(features={**item.features, CLUSTER_KEY: cluster})


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
        clusters[role] = feats.get(CLUSTER_KEY)
        features[role] = {name: np.frombuffer(data, "<f4") for name, data in feats.items()
                          if name != CLUSTER_KEY}
    if any(f is None for f in features):
      yield beam.pvalue.TaggedOutput("stats", ("skipped/missing_features", 1))
      return
    if len(parts) > 3:
      # The same triplet drawn twice (--all_levels): written once, counted.
      yield beam.pvalue.TaggedOutput("stats",
                                     ("triplets/duplicates_merged", len(parts) // 3 - 1))
    yield beam.pvalue.TaggedOutput("stats", (f"triplets/{level_name(level)}", 1))
    yield beam.pvalue.TaggedOutput("stats", ("triplets/total", 1))
    yield (f"{order}|{anchor}|{positive}",
           triplet_record((anchor, positive, negative), level, features, self._modalities,
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
             labelled_record(item_id, label, grouped["item"][0].features, self._modalities))


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
