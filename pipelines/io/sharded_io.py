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

import dataclasses
import io
import os
import struct
import uuid
import zlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import apache_beam as beam
import google_crc32c
from apache_beam.io.filesystems import FileSystems

from pipelines.io import shard_sets

TEXT = "text"
TFRECORD = "tfrecord"


def shard_index(key: str, num_shards: int) -> int:
  """Returns the shard of `key`: CRC-32 of its UTF-8 bytes modulo `num_shards`."""
  return zlib.crc32(key.encode("utf-8")) % num_shards


def shard_path(prefix: str, index: int, num_shards: int, suffix: str) -> str:
  return f"{prefix}-{index:05d}-of-{num_shards:05d}{suffix}"


def shard_glob(prefix: str, suffix: str) -> str:
  return f"{prefix}-?????-of-?????{suffix}"


def ensure_dir(directory: str) -> None:
  """Creates `directory` and its parents unless it exists.

  Workers writing shards of one output race to create its folder: a worker that
  loses the race (the folder appeared between its check and its `mkdirs`) goes on.
  """
  if FileSystems.exists(directory):
    return
  try:
    FileSystems.mkdirs(directory)
  except IOError:
    if not FileSystems.exists(directory):
      raise


def atomic_write(path: str, data: bytes) -> None:
  """Writes `data` to `path` through a temporary file and a rename."""
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
  """Writes the set's manifest (last); entries are (file name, bytes, crc32c hex)."""
  path = shard_sets.manifest_path(prefix)
  atomic_write(path, shard_sets.manifest_bytes(prefix, suffix, num_shards, entries))
  return path


def _entry(path: str, data: bytes) -> tuple[str, int, str]:
  return os.path.basename(path), len(data), shard_sets.crc32c_hex(data)


def masked_crc32c(data: bytes) -> int:
  """The masked CRC-32C of the TFRecord format."""
  crc = google_crc32c.value(data)
  return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord_frame(record: bytes) -> bytes:
  """Frames one record in the TFRecord layout (length, CRCs, data)."""
  length = struct.pack("<Q", len(record))
  return (length + struct.pack("<I", masked_crc32c(length)) + record +
          struct.pack("<I", masked_crc32c(record)))


TFRECORD_BAD_DATA_CHECKSUM = "tfrecord_bad_data_checksum"
TFRECORD_BAD_LENGTH_CHECKSUM = "tfrecord_bad_length_checksum"
TFRECORD_TRUNCATED = "tfrecord_truncated"


class CorruptFrame(NamedTuple):
  """A TFRecord frame that failed its checks, `offset` bytes into the file.

  `data` holds the record when only its data checksum failed (the length was
  verified, so reading goes on after it); otherwise it is empty and nothing
  after `offset` can be read, since the next frame cannot be found.
  """
  reason: str
  offset: int
  data: bytes = b""

  def describe(self) -> str:
    what = {TFRECORD_BAD_DATA_CHECKSUM: "bad data checksum",
            TFRECORD_BAD_LENGTH_CHECKSUM: "bad length checksum",
            TFRECORD_TRUNCATED: "truncated record"}[self.reason]
    return f"{what} at byte {self.offset}"


def scan_tfrecords(f) -> Iterator[bytes | CorruptFrame]:
  """Yields the records of an open TFRecord file and its corrupt frames.

  Streams: holds one record at a time. The length checksum is checked before
  the length is trusted. A record whose data checksum fails is yielded as a
  `CorruptFrame` and reading goes on; a bad length checksum or a file that
  ends inside a frame yields a `CorruptFrame` and ends the scan.
  """
  pos = 0
  while True:
    head = f.read(12)
    if not head:
      return
    if len(head) < 12:
      yield CorruptFrame(TFRECORD_TRUNCATED, pos)
      return
    length, length_crc = struct.unpack("<QI", head)
    if masked_crc32c(head[:8]) != length_crc:
      yield CorruptFrame(TFRECORD_BAD_LENGTH_CHECKSUM, pos)
      return
    body = f.read(length + 4)
    if len(body) < length + 4:
      yield CorruptFrame(TFRECORD_TRUNCATED, pos)
      return
    record = body[:length]
    if masked_crc32c(record) != struct.unpack("<I", body[length:])[0]:
      yield CorruptFrame(TFRECORD_BAD_DATA_CHECKSUM, pos, record)
    else:
      yield record
    pos += 16 + length


def read_tfrecords(f) -> Iterator[bytes]:
  """Yields the records of an open TFRecord file, checking both checksums.

  Raises:
    ValueError: naming the byte offset of the first truncated or corrupt record.
  """
  for record in scan_tfrecords(f):
    if isinstance(record, CorruptFrame):
      raise ValueError(record.describe())
    yield record


def encode_shard(records: Iterable[tuple[str, bytes | str]], record_format: str,
                 header: str | None) -> bytes:
  """Encodes sorted records of one shard as file bytes."""
  out = io.BytesIO()
  if record_format == TEXT:
    if header is not None:
      out.write(header.encode("utf-8") + b"\n")
    for _, payload in records:
      out.write(payload.encode("utf-8") + b"\n")
  else:
    for _, payload in records:
      out.write(tfrecord_frame(payload))
  return out.getvalue()


def _sorted(records):
  return sorted(records, key=lambda kv: (kv[0], kv[1]))


def write_sorted_shards_local(records: Iterable[tuple[str, bytes | str]], prefix: str,
                              suffix: str, num_shards: int, record_format: str = TEXT,
                              header: str | None = None) -> list[str]:
  """Writes (sort_key, payload) records exactly as `WriteSortedShards` would."""
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


@dataclasses.dataclass
class WriteSortedShards(beam.PTransform):
  """Writes a PCollection of (sort_key, payload) as deterministic sorted shards.

  Returns a PCollection of one element, the manifest's path, produced once
  every shard is in place.

  Attributes:
    prefix: output path prefix, e.g. `OUT/assignments`.
    suffix: file name suffix, e.g. `.tsv`.
    num_shards: number of shards; every shard is written, empty or not.
    record_format: `text` (payload is a line, str) or `tfrecord` (payload bytes).
    header: first line of every text shard, or None.
  """
  prefix: str
  suffix: str
  num_shards: int = 1
  record_format: str = TEXT
  header: str | None = None

  def __post_init__(self):
    super().__init__()

  def expand(self, records):
    num_shards, prefix, suffix = self.num_shards, self.prefix, self.suffix
    cleared = (records.pipeline
               | "Start" >> beam.Create([None])
               | "RemoveEarlierSet" >> beam.Map(lambda _: remove_shards(prefix, suffix) or prefix))
    by_shard = records | "KeyByShard" >> beam.Map(
        lambda kv: (shard_index(kv[0], num_shards), kv))
    every_shard = (records.pipeline
                   | "EveryShard" >> beam.Create([(i, None) for i in range(num_shards)]))
    return ({"records": by_shard, "shard": every_shard}
            | "GroupByShard" >> beam.CoGroupByKey()
            | "WriteShard" >> beam.MapTuple(self._write_shard,
                                            beam.pvalue.AsSingleton(cleared))
            | "ListShards" >> beam.combiners.ToList()
            | "WriteManifest" >> beam.Map(
                lambda entries: write_manifest(prefix, suffix, num_shards, entries)))

  def _write_shard(self, index, grouped, _cleared=None):
    path = shard_path(self.prefix, index, self.num_shards, self.suffix)
    data = encode_shard(_sorted(grouped["records"]), self.record_format, self.header)
    atomic_write(path, data)
    beam.metrics.Metrics.counter("gcml", "shards_written").inc()
    return _entry(path, data)
