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

from pipelines.io import tf_example

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
