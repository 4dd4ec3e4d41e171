"""Triplet records of the in-memory engine, assembled from per-item blocks in bulk.

A triplet record (`join_features.triplet_record`) is an Example whose map
entries sort as `anchor/*`, `level`, `negative/*`, `positive/*`; the entries
of one role depend only on the item. So each (role, item) block is encoded
once, for all items of a role at once (`role_blocks`: a numpy byte matrix per
id length, the modalities' float bytes copied in as columns), with its length
and CRC-32C. A record is then its header, three blocks and the level entry:
its length is a sum, its CRC-32C is combined from the blocks' CRCs
(`frame_batches.combine`), and a shard's bytes are one join of (frame head,
blocks, level, masked CRC) pieces. No record is built or scanned on its own.

Records are grouped like `join_features.EncodeTriplets` (one record per
distinct triplet, duplicates counted), keyed by
`order_key(seed, anchor, positive)|anchor|positive`, sharded by the CRC-32
of that key and sorted by (key, payload), as `sharded_io.WriteSortedShards`
writes them.
"""

import os
import zlib

import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples.join_features import ROLES, level_name
from pipelines.io import frame_batches, shard_sets, sharded_io, tf_example


def _field(tag: int, payload: bytes) -> bytes:
  return tf_example._field(tag, payload)  # pylint: disable=protected-access


def _entry(name: str, feature: bytes) -> bytes:
  """A map entry of the Example's features: (name, Feature)."""
  return _field(0x0A, _field(0x0A, name.encode("utf-8")) + _field(0x12, feature))


class RoleBlocks:
  """Each item's encoded entries for one role, as bytes, with lengths and CRC-32C.

  Attributes:
    blocks: object array by item index (None for items not encoded).
    lengths: int64 array of the blocks' lengths.
    crcs: uint32 array of their CRC-32C.
  """

  def __init__(self, n: int):
    self.blocks = np.full(n, None, object)
    self.lengths = np.zeros(n, np.int64)
    self.crcs = np.zeros(n, np.uint32)


def role_blocks(role: str, names: np.ndarray, used: np.ndarray, vectors: dict,
                modalities) -> RoleBlocks:
  """The entries `<role>/id` and `<role>/<modality>` of the items `used`, in name order.

  Args:
    role: `anchor`, `positive` or `negative`.
    names: the items' ids as a numpy bytes array (UTF-8).
    used: the item indices to encode.
    vectors: modality name -> float32 matrix, one row per entry of `used`.
    modalities: the modalities.

  Returns:
    The RoleBlocks (indexed like `names`).
  """
  out = RoleBlocks(len(names))
  keys = sorted([("id", f"{role}/id")] + [(m.name, f"{role}/{m.name}") for m in modalities],
                key=lambda kv: kv[1])
  lengths = np.strings.str_len(names[used]) if len(used) else np.zeros(0, np.int64)
  for id_length in np.unique(lengths).tolist():
    rows = np.flatnonzero(lengths == id_length)
    columns = []
    for key, name in keys:
      if key == "id":
        prefix = _entry(name, tf_example._feature(b"\0" * id_length))[:-id_length or None]  # pylint: disable=protected-access
        ids = names[used[rows]].astype(f"S{max(1, id_length)}")
        data = np.frombuffer(ids.tobytes(), np.uint8).reshape(len(rows), -1)[:, :id_length]
      else:
        values = vectors[key][rows].astype("<f4", copy=False)
        prefix = _entry(name, tf_example._feature(values[0]))[:-4 * values.shape[1]]  # pylint: disable=protected-access
        data = np.ascontiguousarray(values).view(np.uint8).reshape(len(rows), -1)
      columns += [np.broadcast_to(np.frombuffer(prefix, np.uint8), (len(rows), len(prefix))),
                  data]
    matrix = np.concatenate(columns, axis=1)
    width = matrix.shape[1]
    blocks = np.frombuffer(np.ascontiguousarray(matrix).tobytes(), f"V{width}").astype(object)
    at = used[rows]
    out.blocks[at] = blocks
    out.lengths[at] = width
    out.crcs[at] = frame_batches.crc32c_each(blocks)
  return out


def distinct_triplets(a, p, n, level, counts) -> tuple:
  """One (anchor, positive, negative, level) per distinct triplet, counted as `_Encode` counts.

  Args:
    a, p, n, level: int64 arrays (item indices and levels), one entry per triplet.
    counts: a Counter, added to.

  Returns:
    (a, p, n, level) of the distinct triplets, in no particular order.
  """
  order = np.lexsort((level, n, p, a))
  a, p, n, level = a[order], p[order], n[order], level[order]
  first = np.ones(len(a), bool)
  first[1:] = (a[1:] != a[:-1]) | (p[1:] != p[:-1]) | (n[1:] != n[:-1]) | (
      level[1:] != level[:-1])
  merged = len(a) - int(first.sum())
  if merged:
    counts["triplets/duplicates_merged"] += merged
  a, p, n, level = a[first], p[first], n[first], level[first]
  for value, count in zip(*np.unique(level, return_counts=True)):
    counts[f"triplets/{level_name(int(value))}"] += int(count)
  if len(a):
    counts["triplets/total"] += len(a)
  return a, p, n, level


def write_triplets(prefix: str, num_shards: int, triplets: tuple, ids: list, vectors_of,
                   modalities, seed: int, counts) -> list:
  """Writes the triplet shards (`triplets-*.tfrecord`) and their manifest.

  Args:
    prefix: the output's path prefix.
    num_shards: the number of shards.
    triplets: (anchor, positive, negative, level) int64 arrays; the first three index `ids`.
    ids: the item ids.
    vectors_of: (modality name, item indices) -> float32 matrix of those items' values.
    modalities: the modalities.
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    The shard paths.
  """
  a, p, n, level = distinct_triplets(*(np.asarray(t, np.int64) for t in triplets), counts)
  names = hashing_vectorised.encoded(ids) if len(ids) else np.zeros(0, "S1")
  blocks = {}
  for role, members in zip(ROLES, (a, p, n)):
    used = np.unique(members)
    vectors = {m.name: vectors_of(m.name, used) for m in modalities}
    blocks[role] = role_blocks(role, names, used, vectors, modalities)
  level_values, level_index = np.unique(level, return_inverse=True)
  level_entries = [_entry("level", tf_example._feature([int(v)])) for v in level_values.tolist()]  # pylint: disable=protected-access
  level_blocks = np.array(level_entries + [None], object)[:-1]
  level_lengths = np.array([len(e) for e in level_entries], np.int64)[level_index]
  level_crcs = frame_batches.crc32c_each(level_entries)[level_index]
  hashes = hashing_vectorised.hash64(len(a), seed, "order", names[a], names[p])
  keys = np.strings.add(np.strings.add(np.strings.add(np.strings.add(
      hashing_vectorised.hex16(hashes), b"|"), names[a]), b"|"), names[p])
  shard = np.fromiter(map(zlib.crc32, keys.tolist()), np.int64, len(a)) % num_shards
  order = np.lexsort((hashes, shard))
  a, p, n, level_index, keys = a[order], p[order], n[order], level_index[order], keys[order]
  shard, hashes, level_lengths, level_crcs = (shard[order], hashes[order], level_lengths[order],
                                              level_crcs[order])
  anchor, positive, negative = blocks["anchor"], blocks["positive"], blocks["negative"]
  tail_length = level_lengths + negative.lengths[n] + positive.lengths[p]
  body = anchor.lengths[a] + tail_length
  body_values, body_index = np.unique(body, return_inverse=True)
  headers = [b"\x0a" + tf_example._varint(v) for v in body_values.tolist()]  # pylint: disable=protected-access
  header_crcs = frame_batches.crc32c_each(headers)[body_index]
  crcs = (frame_batches.shift(header_crcs, body) ^ frame_batches.shift(anchor.crcs[a], tail_length)
          ^ frame_batches.shift(level_crcs, tail_length - level_lengths)
          ^ frame_batches.shift(negative.crcs[n], positive.lengths[p]) ^ positive.crcs[p])
  heads = np.array([frame_batches.frame_head(len(h) + v) + h
                    for h, v in zip(headers, body_values.tolist())] + [None], object)[:-1]
  pieces = np.empty((len(a), 6), object)
  pieces[:, 0] = heads[body_index]
  pieces[:, 1] = anchor.blocks[a]
  pieces[:, 2] = level_blocks[level_index]
  pieces[:, 3] = negative.blocks[n]
  pieces[:, 4] = positive.blocks[p]
  pieces[:, 5] = frame_batches.frame_tails(crcs)
  _sort_ties(pieces, shard, hashes, keys)
  bounds = np.searchsorted(shard, np.arange(num_shards + 1))
  sharded_io.remove_shards(prefix, ".tfrecord")
  paths, entries = [], []
  for i in range(num_shards):
    data = b"".join(pieces[bounds[i]:bounds[i + 1]].ravel().tolist())
    path = sharded_io.shard_path(prefix, i, num_shards, ".tfrecord")
    sharded_io.atomic_write(path, data)
    paths.append(path)
    entries.append((os.path.basename(path), len(data), shard_sets.crc32c_hex(data)))
    del data
  sharded_io.write_manifest(prefix, ".tfrecord", num_shards, entries)
  return paths


def _sort_ties(pieces: np.ndarray, shard: np.ndarray, hashes: np.ndarray, keys: np.ndarray):
  """Within runs of one shard and one order hash, puts the rows in (key, payload) order.

  Rows are already in (shard, order hash) order, which is key order between
  different hashes (the key starts with the hash's fixed-width hex digits).
  """
  tie = np.flatnonzero((shard[1:] == shard[:-1]) & (hashes[1:] == hashes[:-1]))
  if not len(tie):
    return
  run_starts = tie[np.concatenate(([True], tie[1:] != tie[:-1] + 1))]
  for start in run_starts.tolist():
    stop = start + 1
    while stop < len(shard) and shard[stop] == shard[start] and hashes[stop] == hashes[start]:
      stop += 1
    rows = list(range(start, stop))
    rows.sort(key=lambda r: (keys[r], pieces[r, 0][12:] + b"".join(pieces[r, 1:5].tolist())))
    pieces[start:stop] = pieces[rows]
    keys[start:stop] = keys[rows]
