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

from pipelines.io import shard_sets, sharded_io, tf_example
from pipelines import hashing_vectorised
from pipelines.examples.join_features import ROLES, level_name


def write_shards(prefix: str, suffix: str, num_shards: int, keyed: list, encode,
                 record_format: str, header: str | None = None) -> list:
  """Writes (sort key, value) pairs as sorted shards; `encode(value)` gives the payload.

  Args:
    prefix: the output's path prefix.
    suffix: the file name's ending.
    num_shards: the number of shards.
    keyed: (sort key, value) pairs.
    encode: value -> payload.
    record_format: `text` or `tfrecord`.
    header: first line of a text shard, or None.

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


def _varint(n: int) -> bytes:
  """Protobuf varint of a length (non-negative)."""
  if n < 0x80:
    return bytes((n,))
  if n < 0x4000:
    return bytes((n & 0x7F | 0x80, n >> 7))
  return tf_example._varint(n)  # pylint: disable=protected-access


def _field(tag: int, payload: bytes) -> bytes:
  return bytes((tag,)) + _varint(len(payload)) + payload


class TripletEncoder:
  """The bytes of `join_features.triplet_record`, each item's role blocks serialised once.

  An Example is a list of map entries `(name, Feature)` in sorted name order:
  `anchor/*`, `level`, `negative/*`, `positive/*`. The entries of one role
  depend only on the item, so each (item, role) block is built once and a
  record is three cached blocks, the level entry and the framing; an item's
  encoded values are shared by its roles. Memory: about four times the
  features of the items that appear in triplets.
  """

  def __init__(self, items: dict, modalities):
    self._items = items
    self._names = [m.name for m in modalities]
    self._blocks = [{} for _ in ROLES]
    self._values = {}
    self._levels = {}
    self._role_names = [[_field(0x0A, name.encode("utf-8")) for name in
                         sorted([f"{role}/id"] + [f"{role}/{m}" for m in self._names])]
                        for role in ROLES]
    self._role_keys = [["id" if name.endswith("/id") else name.split("/", 1)[1] for name in
                        sorted([f"{role}/id"] + [f"{role}/{m}" for m in self._names])]
                       for role in ROLES]
    if sorted(["level"] + [f"{r}/x" for r in ROLES]) != ["anchor/x", "level", "negative/x",
                                                         "positive/x"] or any(
                                                             keys != self._role_keys[0]
                                                             for keys in self._role_keys):
      raise AssertionError("the roles no longer sort as encode() writes them")

  def _block(self, role: int, item_id: str) -> bytes:
    """The role's map entries of one item; the feature values are encoded once per item."""
    values = self._values.get(item_id)
    if values is None:
      features = self._items[item_id].features
      values = self._values[item_id] = [
          _field(0x12, tf_example._feature(  # pylint: disable=protected-access
              item_id if key == "id" else features[key])) for key in self._role_keys[0]]
    block = self._blocks[role][item_id] = b"".join(
        b"\x0a" + _varint(len(name) + len(value)) + name + value
        for name, value in zip(self._role_names[role], values))
    return block

  def _level(self, level: int) -> bytes:
    name = _field(0x0A, b"level")
    value = _field(0x12, tf_example._feature([int(level)]))  # pylint: disable=protected-access
    entry = self._levels[level] = b"\x0a" + _varint(len(name) + len(value)) + name + value
    return entry

  def encode(self, triplet: tuple) -> bytes:
    """(anchor, positive, negative, level) -> the serialized Example."""
    anchors, positives, negatives = self._blocks
    body = b"".join((anchors.get(triplet[0]) or self._block(0, triplet[0]),
                     self._levels.get(triplet[3]) or self._level(triplet[3]),
                     negatives.get(triplet[2]) or self._block(2, triplet[2]),
                     positives.get(triplet[1]) or self._block(1, triplet[1])))
    return b"\x0a" + _varint(len(body)) + body


def keyed_triplets(triplets: list, items: dict, seed: int, counts) -> list:
  """(sort key, triplet) per distinct triplet, counted as `_Encode` counts them.

  The sort key is `order_key(seed, anchor, positive)|anchor|positive`; the
  order keys are hashed in one batch.

  Args:
    triplets: (anchor, positive, negative, level) tuples.
    items: the ids with features (a triplet naming another is skipped).
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    (sort key, triplet) pairs.
  """
  kept = []
  for triplet, copies in collections.Counter(triplets).items():
    anchor, positive, negative, level = triplet
    if anchor not in items or positive not in items or negative not in items:
      counts["skipped/missing_features"] += 1
      continue
    if copies > 1:
      counts["triplets/duplicates_merged"] += copies - 1
    counts[f"triplets/{level_name(level)}"] += 1
    counts["triplets/total"] += 1
    kept.append(triplet)
  order = hashing_vectorised.order_key(
      len(kept), seed, hashing_vectorised.encoded([t[0] for t in kept]),
      hashing_vectorised.encoded([t[1] for t in kept])).tolist()
  return [(f"{key.decode('ascii')}|{t[0]}|{t[1]}", t) for key, t in zip(order, kept)]
