"""Shard sets as units: the manifest written last, and the readers' check of it.

Every sharded output `DIR/name-00000-of-00004.ext` is written by `sharded_io`,
which writes `DIR/_MANIFEST-name.json` after the last shard: the shard count,
every file's name, size and CRC-32C, and `run`, a digest of those entries (it
names the set by its content, so the Beam and the in-memory engines, which
write the same bytes, write the same manifest; it holds no time or host).
A writer deletes the set's manifest before it writes any shard, so a run
killed half way leaves shards without a manifest.

`check_paths` is what readers call on the files a glob matched:

* a set with a manifest must be whole: every file it lists present with its
  size (and, for sets up to `VERIFY_CHECKSUM_BYTES`, its checksum), and no
  matched file of the same name outside it (a stale set of another shard
  count, or a mix of runs);
* a set without a manifest is refused where the reader requires one (outputs
  of gcml such as cluster tables and embeddings), and in any folder that holds
  a `_LOCK` of another process (`output_lock`: a gcml stage is writing it, or
  was killed while it did, even if every shard is there); inputs written by users have none and
  are accepted, unless the files a wildcard matched are plainly a partial or
  mixed `-of-N` set.

Every refusal is one `InputError` line naming the set and what is wrong.
Readers pass the file system they use (`BeamFiles`, the default; the trainer
passes TensorFlow's, `model/input.py`).
"""

import hashlib
import json
import os
import re
from collections.abc import Iterable

import google_crc32c
from pipelines.io.file_system import FileSystems

from pipelines.errors import InputError
from pipelines.io import output_lock

FORMAT = "gcml-shard-set/1"
# Sets up to this many bytes in all have their checksums verified by readers
# before a run starts; larger ones are checked by name and size only.
VERIFY_CHECKSUM_BYTES = 1 << 30
SHARD_NAME = re.compile(r"^(?P<name>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})(?P<suffix>.*)$")


class BeamFiles:
  """The file operations the checks need, on Beam's file systems."""

  @staticmethod
  def join(directory: str, name: str) -> str:
    return FileSystems.join(directory, name)

  @staticmethod
  def exists(path: str) -> bool:
    return FileSystems.exists(path)

  @staticmethod
  def open(path: str):
    return FileSystems.open(path, compression_type="uncompressed")

  @staticmethod
  def sizes(directory: str, names: list[str]) -> dict:
    """{name: size in bytes} of the named files that exist in `directory`."""
    found = {}
    for result in FileSystems.match([FileSystems.join(directory, n) for n in names]):
      for m in result.metadata_list:
        found[os.path.basename(m.path)] = m.size_in_bytes
    return found


BEAM = BeamFiles()


def manifest_path(prefix: str) -> str:
  """`DIR/_MANIFEST-name.json` for the shard set `DIR/name-*`.

  Args:
    prefix: the set's path without the shard part.

  Returns:
    The manifest's path.
  """
  directory, name = os.path.split(prefix)
  return FileSystems.join(directory, f"_MANIFEST-{name}.json") if directory else \
      f"_MANIFEST-{name}.json"


def crc32c_hex(data: bytes) -> str:
  """The CRC-32C of `data`, as the manifest records it.

  Args:
    data: a shard's bytes.

  Returns:
    Eight lowercase hex digits.
  """
  return f"{google_crc32c.value(data):08x}"


def manifest_bytes(prefix: str, suffix: str, num_shards: int,
                   entries: Iterable[tuple[str, int, str]]) -> bytes:
  """The manifest of a set: entries are (file name, size in bytes, crc32c hex).

  Args:
    prefix: the set's path without the shard part.
    suffix: the shards' extension.
    num_shards: how many shards the set has.
    entries: one (file name, size in bytes, crc32c hex) per shard.

  Returns:
    The manifest's JSON bytes (sorted keys, newline-terminated).
  """
  files = [{"name": n, "bytes": int(b), "crc32c": c} for n, b, c in sorted(entries)]
  digest = hashlib.blake2b(json.dumps(files, sort_keys=True).encode(), digest_size=8)
  body = {"format": FORMAT, "name": os.path.basename(prefix), "suffix": suffix,
          "num_shards": num_shards, "run": digest.hexdigest(), "files": files}
  return (json.dumps(body, indent=1, sort_keys=True) + "\n").encode("utf-8")


def read_manifest(path: str, what: str, files=BEAM) -> dict:
  """Reads and checks the format of a shard set's manifest.

  Args:
    path: the manifest's path.
    what: what the set is, for the error message.
    files: the file system to read with (Beam's, or a local one).

  Returns:
    The manifest's body.
  """
  try:
    with files.open(path) as f:
      body = json.loads(f.read().decode("utf-8"))
    if body.get("format") != FORMAT or not isinstance(body.get("files"), list):
      raise ValueError("not a gcml shard-set manifest")
    return body
  except Exception as e:  # pylint: disable=broad-except
    raise InputError(f"{what}: {path}: unreadable manifest ({e.__class__.__name__}: {e})") from None


def _checksum(path: str, files=BEAM) -> str:
  crc = google_crc32c.Checksum()
  with files.open(path) as f:
    while chunk := f.read(8 << 20):
      crc.update(chunk)
  return crc.hexdigest().decode("ascii")


def check_set(directory: str, name: str, suffix: str, matched: list[str], what: str,
              files=BEAM) -> bool:
  """Checks one set against its manifest; returns False when it has none.

  Args:
    directory: the set's folder.
    name: the set's name (files are `name-*`).
    suffix: the shards' extension.
    matched: the files of the set that a pattern matched.
    what: what the set is, for the error message.
    files: the file system to read with.

  Returns:
    True when the set has a manifest and agrees with it, False when it has none.
  """
  manifest = files.join(directory, f"_MANIFEST-{name}.json") if directory else \
      f"_MANIFEST-{name}.json"
  if not files.exists(manifest):
    return False
  body = read_manifest(manifest, what, files)
  listed = {f["name"]: f for f in body["files"]}
  tag = f"{what}: {files.join(directory, name)}-*{suffix}"
  for path in matched:
    if os.path.basename(path) not in listed:
      raise InputError(
          f"{tag}: {os.path.basename(path)} is not part of the set in {manifest} "
          f"({body['num_shards']} shards, run {body['run']}): a stale or mixed shard set; "
          "rerun the stage that writes it into an empty or its own directory")
  sizes = files.sizes(directory, sorted(listed))
  for file_name, entry in sorted(listed.items()):
    if file_name not in sizes:
      raise InputError(f"{tag}: partial shard set: {file_name} (listed in {manifest}, run "
                       f"{body['run']}) is missing")
    if sizes[file_name] != entry["bytes"]:
      raise InputError(f"{tag}: {file_name} has {sizes[file_name]} bytes but its manifest "
                       f"(run {body['run']}) says {entry['bytes']}: a mixed or damaged set")
  if sum(sizes.values()) <= VERIFY_CHECKSUM_BYTES:
    for file_name, entry in sorted(listed.items()):
      if _checksum(files.join(directory, file_name), files) != entry["crc32c"]:
        raise InputError(f"{tag}: {file_name} does not match the checksum in its manifest "
                         f"(run {body['run']}): a mixed or damaged set")
  return True


def check_paths(paths: list[str], what: str, require_manifest: bool = False,
                wildcard: bool = True, files=BEAM) -> None:
  """Refuses, in one line, matched files that are a partial or mixed shard set.

  Args:
    paths: files a reader is about to read.
    what: the flag or input named in the error.
    require_manifest: the files are a gcml output: a set without a manifest (a
      killed run, or one from before manifests) is refused; so is a file that
      is not a shard.
    wildcard: the paths came from a glob (a partial `-of-N` set is then refused
      even without a manifest).
    files: the file system (`BeamFiles`' methods).

  Raises:
    InputError: naming the set and what is wrong with it.
  """
  groups = {}
  for path in paths:
    directory, base = os.path.split(path)
    m = SHARD_NAME.match(base)
    if not m:
      if require_manifest:
        raise InputError(f"{what}: {path} is not a shard of a gcml output "
                         "(name-00000-of-00004.ext)")
      continue
    groups.setdefault((directory, m["name"], m["suffix"]), []).append(
        (path, int(m["index"]), int(m["count"])))
  for (directory, name, suffix), members in sorted(groups.items()):
    matched = [p for p, _, _ in members]
    if check_set(directory, name, suffix, matched, what, files):
      continue
    tag = f"{what}: {files.join(directory, name)}-*{suffix}"
    if require_manifest:
      raise InputError(f"{tag}: no manifest ({os.path.basename(manifest_path(name))}): "
                       "the run that wrote it did not finish, or wrote it before manifests "
                       "existed; rerun that stage")
    lock = files.join(directory, output_lock.LOCK_NAME) if directory else output_lock.LOCK_NAME
    if files.exists(lock) and not output_lock.held_here(lock):
      raise InputError(f"{tag}: no manifest, and {lock} is there: the gcml run writing this "
                       "folder has not finished or was killed; wait for it or rerun that stage")
    counts = sorted({c for _, _, c in members})
    if len(counts) > 1:
      raise InputError(f"{tag}: files of {len(counts)} shard sets ({', '.join(map(str, counts))}"
                       " shards) are mixed; keep one set")
    have = {i for _, i, _ in members}
    if wildcard and len(have) < counts[0]:
      raise InputError(f"{tag}: partial shard set: {len(have)} of {counts[0]} shards")
