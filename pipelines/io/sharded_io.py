"""Deterministic, atomic, sharded outputs: `name-00000-of-00008.ext`.

Beam's own file sinks pick shards round-robin from a random start and keep
arrival order, so two runs of the same pipeline give different bytes. gcml
outputs must be byte-identical for the same inputs and seed whatever the runner
or the number of workers, so every output goes through `WriteSortedShards`:

* a record's shard is a stable hash (CRC-32) of its sort key, never Python's
  salted `hash()`;
* records in a shard are sorted by (sort key, payload);
* a shard is written to a temporary name and renamed into place, so a failed
  run never leaves a half file that looks whole;
* the set is a unit: before any shard is written the earlier set of the same
  name (any shard count), its manifest and stale `.tmp-*` files are removed,
  and after the last shard `_MANIFEST-<name>.json` is written (`shard_sets`),
  which readers check.

A shard is sorted in one worker's memory: choose `num_shards` so that one shard
(total size / num_shards) fits comfortably; the pipelines scale it with input.
`write_sorted_shards_local` writes the same bytes from in-memory records, for
the in-memory engines.
"""

import io
import os
import uuid
import zlib
from collections.abc import Iterable

from pipelines.io.file_system import FileSystems

from pipelines.io import shard_sets
from pipelines.io.tfrecord_frames import tfrecord_frame

TEXT = "text"
TFRECORD = "tfrecord"


def shard_index(key: str, num_shards: int) -> int:
  """The shard of a record: CRC-32 of its sort key's UTF-8 bytes modulo `num_shards`.

  Args:
    key: the record's sort key.
    num_shards: the number of shards.

  Returns:
    The shard index in [0, num_shards).
  """
  return zlib.crc32(key.encode("utf-8")) % num_shards


def shard_path(prefix: str, index: int, num_shards: int, suffix: str) -> str:
  """The file of one shard.

  Args:
    prefix: the output's path prefix (`OUT/assignments`).
    index: the shard.
    num_shards: the number of shards.
    suffix: the file name's ending (`.tsv`).

  Returns:
    `prefix-00003-of-00008.tsv`.
  """
  return f"{prefix}-{index:05d}-of-{num_shards:05d}{suffix}"


def shard_glob(prefix: str, suffix: str) -> str:
  """The glob matching every shard of an output, whatever its shard count.

  Args:
    prefix: the output's path prefix.
    suffix: the file name's ending.

  Returns:
    `prefix-?????-of-?????suffix`.
  """
  return f"{prefix}-?????-of-?????{suffix}"


def ensure_dir(directory: str) -> None:
  """Creates `directory` and its parents unless it exists.

  Workers writing shards of one output race to create its folder: a worker that
  loses the race (the folder appeared between its check and its `mkdirs`) goes on.

  Args:
    directory: the folder (local or any Beam file system).
  """
  if FileSystems.exists(directory):
    return
  try:
    FileSystems.mkdirs(directory)
  except IOError:
    if not FileSystems.exists(directory):
      raise


def atomic_write(path: str, data: bytes) -> None:
  """Writes `data` to `path` through a temporary file and a rename.

  Args:
    path: the file to write (its folder is created if needed).
    data: the file's bytes.
  """
  directory, name = os.path.split(path)
  ensure_dir(directory)
  tmp = FileSystems.join(directory, f".tmp-{uuid.uuid4().hex}-{name}")
  with FileSystems.create(tmp) as f:
    f.write(data)
  if FileSystems.exists(path):
    FileSystems.delete([path])
  FileSystems.rename([tmp], [path])


def remove_shards(prefix: str, suffix: str) -> None:
  """Deletes an output's manifest, earlier shards and stale temporaries.

  The manifest goes first, so a run stopped half way never leaves a manifest
  beside shards it does not describe.

  Args:
    prefix: the output's path prefix.
    suffix: the file name's ending.
  """
  manifest = shard_sets.manifest_path(prefix)
  if FileSystems.exists(manifest):
    FileSystems.delete([manifest])
  directory, name = os.path.split(prefix)
  stale_tmp = FileSystems.join(directory, f".tmp-*-{name}-?????-of-?????{suffix}")
  found = FileSystems.match([shard_glob(prefix, suffix), stale_tmp])
  paths = [m.path for result in found for m in result.metadata_list]
  if paths:
    FileSystems.delete(paths)


def write_manifest(prefix: str, suffix: str, num_shards: int, entries) -> str:
  """Writes a shard set's manifest, after its last shard.

  Args:
    prefix: the output's path prefix.
    suffix: the file name's ending.
    num_shards: the number of shards.
    entries: (file name, size in bytes, CRC-32C hex) per shard.

  Returns:
    The manifest's path.
  """
  path = shard_sets.manifest_path(prefix)
  atomic_write(path, shard_sets.manifest_bytes(prefix, suffix, num_shards, entries))
  return path


def _entry(path: str, data: bytes) -> tuple[str, int, str]:
  return os.path.basename(path), len(data), shard_sets.crc32c_hex(data)


def encode_shard(records: Iterable[tuple[str, bytes | str]], record_format: str,
                 header: str | None) -> bytes:
  """Encodes the sorted records of one shard as the file's bytes.

  Args:
    records: (sort key, payload) pairs, in order.
    record_format: `text` (payload a str, one line each) or `tfrecord` (payload bytes).
    header: first line of a text shard, or None.

  Returns:
    The shard file's bytes.
  """
  if record_format == TEXT:  # one join and one encode: the bytes of line-by-line writes
    lines = [payload for _, payload in records]
    if header is not None:
      lines.insert(0, header)
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
  out = io.BytesIO()
  for _, payload in records:
    out.write(tfrecord_frame(payload))
  return out.getvalue()


def _sorted(records):
  """(sort key, payload) pairs in (key, payload) order: a pair's own order."""
  return sorted(tuple(kv) for kv in records)


def write_sorted_shards_local(records: Iterable[tuple[str, bytes | str]], prefix: str,
                              suffix: str, num_shards: int, record_format: str = TEXT,
                              header: str | None = None) -> list[str]:
  """Writes (sort key, payload) records in memory, the bytes `WriteSortedShards` writes.

  Args:
    records: (sort key, payload) pairs, in any order.
    prefix: the output's path prefix.
    suffix: the file name's ending.
    num_shards: the number of shards; every shard is written, empty or not.
    record_format: `text` or `tfrecord`.
    header: first line of every text shard, or None.

  Returns:
    The shards' paths, in shard order.
  """
  shards = [[] for _ in range(num_shards)]
  for key, payload in records:
    shards[shard_index(key, num_shards)].append((key, payload))
  remove_shards(prefix, suffix)
  paths, entries = [], []
  for i, shard in enumerate(shards):
    path = shard_path(prefix, i, num_shards, suffix)
    data = encode_shard(_sorted(shard), record_format, header)
    atomic_write(path, data)
    paths.append(path)
    entries.append(_entry(path, data))
  write_manifest(prefix, suffix, num_shards, entries)
  return paths
