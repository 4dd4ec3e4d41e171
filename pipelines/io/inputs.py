"""Checks on input paths before a pipeline starts: one clear line per problem.

A missing path, an empty glob, an unreadable file or a file that is not a
TFRecord is reported as an `InputError` naming the path, before any work is
scheduled, instead of as a traceback from deep inside a runner. So is a
partial or mixed shard set (`shard_sets.check_paths`); gcml's own bookkeeping
files (`_MANIFEST-*.json`, `_LOCK`) are left out of what a wildcard matches.
"""

import os
from collections.abc import Iterator

from pipelines.io.file_system import FileSystems

from pipelines.io import shard_sets
from pipelines.io import tfrecord_frames
from pipelines.errors import InputError

TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfr")


def _bookkeeping(path: str) -> bool:
  name = os.path.basename(path)
  return name == "_LOCK" or (name.startswith("_MANIFEST-") and name.endswith(".json"))


def expand(pattern: str, what: str, require_manifest: bool = False) -> list[str]:
  """Returns the files matching `pattern` (comma-separated globs allowed).

  Args:
    pattern: one or more globs, comma-separated.
    what: the flag named in errors.
    require_manifest: the files are a gcml output whose shard sets must have
      a manifest (see `shard_sets.check_paths`).

  Returns:
    The matching files, sorted, without gcml's own bookkeeping files.

  Raises:
    InputError: a missing path, an empty glob, or a partial or mixed shard set.
  """
  if not pattern:
    raise InputError(f"no {what} given")
  paths = []
  for part in pattern.split(","):
    part = part.strip()
    try:
      found = FileSystems.match([part])[0].metadata_list
    except Exception as e:  # pylint: disable=broad-except
      raise InputError(f"{what}: cannot list {part}: {e}") from None
    if not found:
      kind = "no file matches" if any(c in part for c in "*?[") else "no such file"
      raise InputError(f"{what}: {kind}: {part}")
    wildcard = any(c in part for c in "*?[")
    matched = sorted(m.path for m in found if not m.path.endswith("/")
                     and not (wildcard and _bookkeeping(m.path)))
    if not matched:
      raise InputError(f"{what}: no file matches: {part}")
    shard_sets.check_paths(matched, what, require_manifest, wildcard)
    paths.extend(matched)
  return paths


def check_readable(path: str) -> None:
  """Raises InputError when a file cannot be opened for reading.

  Args:
    path: the file.
  """
  try:
    with FileSystems.open(path, compression_type="uncompressed") as f:
      f.read(1)
  except Exception as e:  # pylint: disable=broad-except
    raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None


def check_tfrecord(path: str) -> None:
  """Verifies the framing (length, CRCs) of the first record of a TFRecord file.

  Args:
    path: the file.
  """
  try:
    with FileSystems.open(path, compression_type="uncompressed") as f:
      next(tfrecord_frames.read_tfrecords(f), None)  # an empty file holds no records: valid
  except ValueError as e:
    raise InputError(f"{path} is not a TFRecord file ({e})") from None
  except Exception as e:  # pylint: disable=broad-except
    raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None


def tfrecords(paths: list[str]) -> Iterator[bytes]:
  """Yields every record of the files; a corrupt file is a one-line InputError.

  Args:
    paths: TFRecord files.

  Yields:
    Each record's bytes, file by file.
  """
  for path in paths:
    with FileSystems.open(path) as f:
      try:
        yield from tfrecord_frames.read_tfrecords(f)
      except ValueError as e:
        raise InputError(f"{path}: corrupt TFRecord ({e})") from None


def check_files(pattern: str, what: str, tfrecord: bool,
                require_manifest: bool = False) -> list[str]:
  """Expands `pattern` and checks every file (see `expand`); returns the paths.

  Args:
    pattern: comma-separated paths or globs.
    what: what the files are, for the message.
    tfrecord: whether each file must be a TFRecord file.
    require_manifest: whether a shard set without a manifest is refused.

  Returns:
    The checked paths, as `expand` returns them.
  """
  paths = expand(pattern, what, require_manifest)
  for path in paths:
    check_tfrecord(path) if tfrecord else check_readable(path)
  return paths
