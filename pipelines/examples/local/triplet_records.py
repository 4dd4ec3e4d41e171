"""Triplet records of the in-memory engine, assembled from per-item blocks in bulk.

A triplet record (`join_features.triplet_record`) is an Example whose map
entries sort as `anchor/*`, `level`, `negative/*`, `positive/*`; the entries
of one role depend only on the item. So each (role, item) block is encoded
once, for all items at once (`item_blocks`: a numpy byte matrix per id
length, the float bytes copied in as columns), with its length and CRC-32C.
A record is its header, three blocks and the level entry: its length is a
sum, its CRC-32C is combined from the blocks' (`frame_batches.combine`), and
a shard is joined from (frame head, blocks, masked CRC) pieces. Records are grouped like
`EncodeTriplets` (one per distinct triplet, duplicates counted), keyed `order_key(seed,
anchor, positive)|anchor|positive`, sharded and sorted as `WriteSortedShards` does.
"""

import os
import uuid
import zlib

import google_crc32c
import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples.join_features import ROLES, level_name
from pipelines.io import frame_batches, sharded_io, tf_example
from pipelines.io.file_system import FileSystems

_CHUNK_BYTES = 256 << 10  # joined, checksummed and written at a time, inside the L2 cache


def entry(name: str, feature: bytes) -> bytes:
  """A map entry of an Example's features: (name, serialized Feature)."""
  field = tf_example._field  # pylint: disable=protected-access
  return field(0x0A, field(0x0A, name.encode("utf-8")) + field(0x12, feature))


class Blocks:
  """Encoded pieces of records: `blocks` (object array of bytes, None where not encoded),
  their `lengths` (int64) and `crcs` (uint32 CRC-32C)."""

  def __init__(self, n: int):
    self.blocks, self.lengths, self.crcs = (np.full(n, None, object), np.zeros(n, np.int64),
                                            np.zeros(n, np.uint32))


def value_blocks(pieces: list) -> Blocks:
  """Blocks of a few given pieces (the `level` entry of each level, say).

  Args:
    pieces: bytes values.

  Returns:
    Their Blocks.
  """
  out = Blocks(len(pieces))
  out.blocks[:] = pieces
  out.lengths[:] = [len(b) for b in pieces]
  out.crcs[:] = frame_batches.crc32c_each(pieces)
  return out


def item_blocks(entries: list, names: np.ndarray, used: np.ndarray, vectors: dict) -> Blocks:
  """Each used item's map entries `entries`, in the given order, as one block.

  Args:
    entries: (key, entry name) pairs: key `id` (the item's id, a bytes list) or a modality
      name (its float vector).
    names: the items' ids as a numpy bytes array (UTF-8).
    used: the item indices to encode.
    vectors: modality name -> float32 matrix, one row per entry of `used`.

  Returns:
    The Blocks (indexed like `names`).
  """
  out = Blocks(len(names))
  if not entries:
    out.blocks[used] = b""
    return out
  lengths = np.strings.str_len(names[used]) if len(used) else np.zeros(0, np.int64)
  for id_length in frame_batches.distinct(lengths)[0].tolist():
    rows = np.flatnonzero(lengths == id_length)
    columns = []
    for key, name in entries:
      if key == "id":
        prefix = entry(name, tf_example._feature(b"\0" * id_length))[:-id_length]  # pylint: disable=protected-access
        ids = names[used[rows]].astype(f"S{id_length}")
        data = np.frombuffer(ids.tobytes(), np.uint8).reshape(len(rows), id_length)
      else:
        values = vectors[key][rows].astype("<f4", copy=False)
        prefix = entry(name, tf_example._feature(values[0]))[:-4 * values.shape[1]]  # pylint: disable=protected-access
        data = np.ascontiguousarray(values).view(np.uint8).reshape(len(rows), -1)
      columns += [np.broadcast_to(np.frombuffer(prefix, np.uint8), (len(rows), len(prefix))),
                  data]
    matrix = np.concatenate(columns, axis=1)
    width = matrix.shape[1]
    blocks = np.ascontiguousarray(matrix).view(f"V{width}").reshape(-1).astype(object)
    del matrix, columns
    at = used[rows]
    out.blocks[at] = blocks
    out.lengths[at] = width
    out.crcs[at] = frame_batches.crc32c_each(blocks)
  return out


def members_of(indices: np.ndarray) -> np.ndarray:
  """The distinct item indices (non-negative), increasing."""
  present = np.zeros(int(indices.max()) + 1 if len(indices) else 0, bool)
  present[indices] = True
  return np.flatnonzero(present)


def role_entries(role: str, modalities) -> list:
  """A triplet role's (key, entry name) pairs in name order: `<role>/id`, `<role>/<modality>`."""
  return sorted([("id", f"{role}/id")] + [(m.name, f"{role}/{m.name}") for m in modalities],
                key=lambda kv: kv[1])


def item_vectors(vectors_of, modalities, groups: list) -> list:
  """Each group's {modality: float32 matrix, a row per item}, every item read once.

  Args:
    vectors_of: (modality name, item indices) -> float32 matrix.
    modalities: the modalities.
    groups: arrays of distinct item indices, increasing.

  Returns:
    One dict per group.
  """
  every = members_of(np.concatenate(groups)) if groups else np.zeros(0, np.int64)
  matrices = {m.name: vectors_of(m.name, every) for m in modalities}
  return [{k: v[np.searchsorted(every, g)] for k, v in matrices.items()} for g in groups]


def distinct_triplets(a, p, n, level, counts) -> tuple:
  """One (anchor, positive, negative, level) per distinct triplet, counted as `_Encode` counts.

  Args:
    a, p, n, level: int64 arrays (item indices and levels), one entry per triplet.
    counts: a Counter, added to.

  Returns:
    (a, p, n, level) of the distinct triplets, in no particular order.
  """
  span = int(max(a.max(), p.max(), n.max())) + 1 if len(a) else 1
  low = int(level.min()) if len(a) else 0
  pairs, rest = a * span + p, n * (int(level.max()) - low + 1 if len(a) else 1) + (level - low)
  order = np.lexsort((rest, pairs))  # (a, p, n, level) order, two keys instead of four
  a, p, n, level, pairs, rest = a[order], p[order], n[order], level[order], pairs[order], rest[
      order]
  first = np.ones(len(a), bool)
  first[1:] = (pairs[1:] != pairs[:-1]) | (rest[1:] != rest[:-1])
  merged = len(a) - int(first.sum())
  if merged:
    counts["triplets/duplicates_merged"] += merged
  a, p, n, level = a[first], p[first], n[first], level[first]
  values, index = frame_batches.distinct(level)
  for value, count in zip(values.tolist(), np.bincount(index).tolist()):
    counts[f"triplets/{level_name(value)}"] += count
  if len(a):
    counts["triplets/total"] += len(a)
  return a, p, n, level


def write_triplets(prefix: str, num_shards: int, triplets: tuple, names: np.ndarray, vectors_of,
                   modalities, seed: int, counts) -> list:
  """Writes the triplet shards (`triplets-*.tfrecord`) and their manifest.

  Args:
    prefix: the output's path prefix.
    num_shards: the number of shards.
    triplets: (anchor, positive, negative, level) int64 arrays; the first three index `names`.
    names: the item ids as a numpy bytes array (UTF-8, `hashing_vectorised.encoded`).
    vectors_of: (modality name, item indices) -> float32 matrix of those items' values.
    modalities: the modalities.
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    The shard paths.
  """
  a, p, n, level = distinct_triplets(*(np.asarray(t, np.int64) for t in triplets), counts)
  used = [members_of(members) for members in (a, p, n)]
  blocks = [item_blocks(role_entries(role, modalities), names, u, vectors)
            for role, u, vectors in zip(ROLES, used, item_vectors(vectors_of, modalities, used))]
  level_values, level_index = frame_batches.distinct(level)
  levels = value_blocks([entry("level", tf_example._feature([int(v)]))  # pylint: disable=protected-access
                         for v in level_values.tolist()])
  hashes = hashing_vectorised.hash64(len(a), seed, "order", names[a], names[p])
  keys = np.strings.add(np.strings.add(np.strings.add(np.strings.add(
      hashing_vectorised.hex16(hashes), b"|"), names[a]), b"|"), names[p])
  anchor, positive, negative = blocks
  return write_sorted_records(prefix, num_shards, hashes, keys, [
      (anchor, a), (levels, level_index), (negative, n), (positive, p)])


def write_sorted_records(prefix: str, num_shards: int, hashes: np.ndarray, keys: np.ndarray,
                         parts: list) -> list:
  """Writes records made of block pieces as sorted TFRecord shards, and their manifest.

  Record i is `0x0A varint(body length)` and the body: the blocks
  `blocks[index[i]]` of every (blocks, index) part, in order (an Example with
  one `features` field, its entries in name order). Its sort key `keys[i]`
  starts with the 16 hex digits of `hashes[i]`; shards and order are
  `sharded_io_beam.WriteSortedShards`'s: CRC-32 of the key, then (key, payload).

  Args:
    prefix: the output's path prefix.
    num_shards: the number of shards.
    hashes: uint64 order hashes.
    keys: the sort keys (numpy bytes, UTF-8).
    parts: (Blocks, index array) pairs.

  Returns:
    The shard paths.
  """
  shard = np.fromiter(map(zlib.crc32, keys.tolist()), np.int64, len(keys)) % num_shards
  order = _by_shard_and_hash(shard, hashes)
  shard, hashes, keys = shard[order], hashes[order], keys[order]
  parts = [(blocks, index[order]) for blocks, index in parts]
  after = np.zeros(len(keys), np.int64)  # bytes after the current part
  crcs = np.zeros(len(keys), np.uint32)
  for blocks, index in reversed(parts):
    crcs ^= frame_batches.shift(blocks.crcs[index], after)
    after += blocks.lengths[index]
  body_values, body_index = frame_batches.distinct(after)
  headers = [b"\x0a" + tf_example._varint(v) for v in body_values.tolist()]  # pylint: disable=protected-access
  crcs ^= frame_batches.shift(frame_batches.crc32c_each(headers)[body_index], after)
  heads = np.array([frame_batches.frame_head(len(h) + v) + h
                    for h, v in zip(headers, body_values.tolist())] + [None], object)[:-1]
  pieces = np.empty((len(keys), len(parts) + 2), object)
  pieces[:, 0] = heads[body_index]
  for column, (blocks, index) in enumerate(parts, 1):
    pieces[:, column] = blocks.blocks[index]
  pieces[:, -1] = frame_batches.frame_tails(crcs)
  _sort_ties(pieces, shard, hashes, keys)
  bounds = np.searchsorted(shard, np.arange(num_shards + 1))
  sharded_io.remove_shards(prefix, ".tfrecord")
  paths, entries = [], []
  for i in range(num_shards):
    path = sharded_io.shard_path(prefix, i, num_shards, ".tfrecord")
    size, crc = _write_atomically(path, pieces[bounds[i]:bounds[i + 1]])
    paths.append(path)
    entries.append((os.path.basename(path), size, f"{crc:08x}"))
  sharded_io.write_manifest(prefix, ".tfrecord", num_shards, entries)
  return paths


def _by_shard_and_hash(shard: np.ndarray, hashes: np.ndarray) -> np.ndarray:
  """Rows by (shard, hash), ties in any order (`_sort_ties`): a hash sort, a radix sort."""
  if len(shard) and int(shard.max()) >= 1 << 15:
    return np.lexsort((hashes, shard))
  order = np.argsort(hashes)
  return order[np.argsort(shard[order].astype(np.int16), kind="stable")]


def _write_atomically(path: str, pieces: np.ndarray) -> tuple:
  """`sharded_io.atomic_write` of the pieces' concatenation, joined 256 KB at a time.

  A chunk's memory is reused for the next (no fresh pages to fault in for a
  whole shard), and the shard's CRC-32C is extended chunk by chunk. A chunk
  small enough to stay in the L2 cache is read back from it by the CRC and by
  the write's copy (8 MB chunks went out to memory and back twice: about 0.02
  CPU-s more for a 20k run's 63 MB).

  Returns:
    (size in bytes, CRC-32C).
  """
  directory, name = os.path.split(path)
  sharded_io.ensure_dir(directory)
  tmp = FileSystems.join(directory, f".tmp-{uuid.uuid4().hex}-{name}")
  per_row = max(1, int(sum(len(b) for b in pieces[0]) if len(pieces) else 1))
  step = max(1, _CHUNK_BYTES // per_row)
  size, crc = 0, 0
  with FileSystems.create(tmp) as f:
    for start in range(0, len(pieces), step):
      chunk = b"".join(pieces[start:start + step].ravel().tolist())
      f.write(chunk)
      crc = google_crc32c.extend(crc, chunk)
      size += len(chunk)
      del chunk
  if FileSystems.exists(path):
    FileSystems.delete([path])
  FileSystems.rename([tmp], [path])
  return size, crc


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
    rows.sort(key=lambda r: (keys[r], pieces[r, 0][12:] + b"".join(pieces[r, 1:-1].tolist())))
    pieces[start:stop] = pieces[rows]
