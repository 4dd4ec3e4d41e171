"""Output records of the in-memory engine: labelled examples, and sorted shards of any records.

`write_labelled` writes contract 6's records in bulk, with the machinery of
`triplet_records.py`. `write_shards` writes (key, value) pairs encoded one by
one, as `sharded_io_beam.WriteSortedShards` writes them (CRC-32 of the sort key
picks the shard, records sorted by (key, payload), the manifest last), one
shard's records encoded at a time.
"""

import os

import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples.local import triplet_records
from pipelines.io import frame_batches, shard_sets, sharded_io, tf_example


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


def write_labelled(prefix: str, num_shards: int, members: np.ndarray, labels: np.ndarray,
                   names: np.ndarray, vectors_of, modalities, seed: int) -> list:
  """Writes the labelled examples (`join_features.labelled_record`) as sorted shards.

  A record's entries sort as the ones before `label` (`id`, ...), `label`,
  and the ones after: the item's two blocks are encoded once
  (`triplet_records.item_blocks`), the label entry once per label, and the
  records assembled in bulk (`triplet_records.write_sorted_records`), keyed
  `order_key(seed, id)|id`.

  Args:
    prefix: the output's path prefix.
    num_shards: the number of shards.
    members: the items written (indices into `names`, distinct).
    labels: each one's label.
    names: ids as a numpy bytes array (UTF-8).
    vectors_of: (modality name, item indices) -> float32 matrix of those items' values.
    modalities: the modalities.
    seed: the run's seed.

  Returns:
    The shard paths.
  """
  entries = sorted([("id", "id"), ("label", "label")] + [(m.name, m.name) for m in modalities],
                   key=lambda kv: kv[1])
  split = [k for k, _ in entries].index("label")
  used = triplet_records.members_of(members)
  vectors = triplet_records.item_vectors(vectors_of, modalities, [used])[0]
  before = triplet_records.item_blocks(entries[:split], names, used, vectors)
  after = triplet_records.item_blocks(entries[split + 1:], names, used, vectors)
  values, index = frame_batches.distinct(labels)
  label_blocks = triplet_records.value_blocks([triplet_records.entry(
      "label", tf_example._feature([int(v)])) for v in values.tolist()])  # pylint: disable=protected-access
  hashes = hashing_vectorised.hash64(len(members), seed, "order", names[members])
  keys = np.strings.add(np.strings.add(hashing_vectorised.hex16(hashes), b"|"), names[members])
  return triplet_records.write_sorted_records(prefix, num_shards, hashes, keys, [
      (before, members), (label_blocks, index), (after, members)])
