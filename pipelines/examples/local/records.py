"""Output records of the in-memory engine, written shard by shard.

Triplets (contract 5) are grouped like `join_features.EncodeTriplets` (one
record per distinct triplet, duplicates counted) and encoded by
`TripletEncoder`, which writes the bytes of `join_features.triplet_record`
from per-item pieces serialised once. Shards are written as
`sharded_io.WriteSortedShards` writes them (CRC-32 of the sort key picks the
shard, records sorted by (key, payload), the manifest last), but only one
shard's records are encoded at a time.
"""

import collections
import os

from pipelines import hashing, shard_sets, sharded_io, tf_example
from pipelines.examples.join_features import ROLES, level_name


def write_shards(prefix: str, suffix: str, num_shards: int, keyed: list, encode,
                 record_format: str, header: str | None = None) -> list:
  """Writes (sort key, value) pairs as sorted shards; `encode(value)` gives the payload.

  Returns:
    The shard paths.
  """
  shards = [[] for _ in range(num_shards)]
  for key, value in keyed:
    shards[sharded_io.shard_index(key, num_shards)].append((key, value))
  sharded_io.remove_shards(prefix, suffix)
  paths, entries = [], []
  for i, shard in enumerate(shards):
    records = sorted((key, encode(value)) for key, value in shard)
    shards[i] = None
    path = sharded_io.shard_path(prefix, i, num_shards, suffix)
    data = sharded_io.encode_shard(records, record_format, header)
    del records
    sharded_io.atomic_write(path, data)
    paths.append(path)
    entries.append((os.path.basename(path), len(data), shard_sets.crc32c_hex(data)))
  sharded_io.write_manifest(prefix, suffix, num_shards, entries)
  return paths


def _field(tag: int, payload: bytes) -> bytes:
  return tf_example._field(tag, payload)  # pylint: disable=protected-access


class TripletEncoder:
  """The bytes of `join_features.triplet_record`, with each item's features serialised once."""

  def __init__(self, items: dict, modalities):
    self._items = items
    self._names = [m.name for m in modalities]
    self._cache = {}
    names = {"level": ("level", None)}
    for r, role in enumerate(ROLES):
      names[f"{role}/id"] = ("id", r)
      for j, m in enumerate(self._names):
        names[f"{role}/{m}"] = ("feature", (r, j))
    self._layout = [(_field(0x0A, name.encode("utf-8")), what) for name, what in
                    ((n, names[n]) for n in sorted(names))]

  def _features(self, item_id: str) -> tuple:
    pieces = self._cache.get(item_id)
    if pieces is None:
      features = self._items[item_id].features
      pieces = tuple(tf_example._feature(features[m]) for m in self._names)  # pylint: disable=protected-access
      self._cache[item_id] = pieces
    return pieces

  def encode(self, triplet: tuple) -> bytes:
    """(anchor, positive, negative, level) -> the serialized Example."""
    ids = triplet[:3]
    features = [self._features(i) for i in ids]
    out = []
    for name, (kind, where) in self._layout:
      if kind == "level":
        value = tf_example._feature([int(triplet[3])])  # pylint: disable=protected-access
      elif kind == "id":
        value = tf_example._feature(ids[where])  # pylint: disable=protected-access
      else:
        value = features[where[0]][where[1]]
      out.append(_field(0x0A, name + _field(0x12, value)))
    return _field(0x0A, b"".join(out))


def keyed_triplets(triplets: list, items: dict, seed: int, counts) -> list:
  """(sort key, triplet) per distinct triplet, counted as `_Encode` counts them."""
  keyed = []
  for triplet, copies in collections.Counter(triplets).items():
    anchor, positive, negative, level = triplet
    if anchor not in items or positive not in items or negative not in items:
      counts["skipped/missing_features"] += 1
      continue
    if copies > 1:
      counts["triplets/duplicates_merged"] += copies - 1
    counts[f"triplets/{level_name(level)}"] += 1
    counts["triplets/total"] += 1
    keyed.append((f"{hashing.order_key(seed, anchor, positive)}|{anchor}|{positive}", triplet))
  return keyed
