"""Checks on input paths before a pipeline starts: one clear line per problem.

A missing path, an empty glob, an unreadable file or a file that is not a
TFRecord is reported as an `InputError` naming the path, before any work is
scheduled, instead of as a traceback from deep inside a runner.
"""

import struct

from apache_beam.io.filesystems import FileSystems

from pipelines import sharded_io
from pipelines.errors import InputError

TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfr")


def expand(pattern: str, what: str) -> list[str]:
  """Returns the files matching `pattern` (comma-separated globs allowed)."""
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
    paths.extend(sorted(m.path for m in found if not m.path.endswith("/")))
  return paths


def check_readable(path: str) -> None:
  try:
    with FileSystems.open(path, compression_type="uncompressed") as f:
      f.read(1)
  except Exception as e:  # pylint: disable=broad-except
    raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None


def check_tfrecord(path: str) -> None:
  """Verifies the framing (length, CRCs) of the first record of a TFRecord file."""
  try:
    with FileSystems.open(path, compression_type="uncompressed") as f:
      head = f.read(12)
      if not head:
        return  # An empty file is a valid TFRecord file with no records.
      if len(head) < 12:
        raise InputError(f"{path} is not a TFRecord file (truncated header)")
      length, length_crc = struct.unpack("<QI", head)
      if sharded_io._masked_crc32c(head[:8]) != length_crc:  # pylint: disable=protected-access
        raise InputError(f"{path} is not a TFRecord file (bad length checksum)")
      data = f.read(length)
      crc = f.read(4)
      if len(data) < length or len(crc) < 4:
        raise InputError(f"{path} is not a TFRecord file (truncated first record)")
      if sharded_io._masked_crc32c(data) != struct.unpack("<I", crc)[0]:  # pylint: disable=protected-access
        raise InputError(f"{path} is not a TFRecord file (bad data checksum)")
  except InputError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None


def check_files(pattern: str, what: str, tfrecord: bool) -> list[str]:
  """Expands `pattern` and checks every file; returns the paths."""
  paths = expand(pattern, what)
  for path in paths:
    check_tfrecord(path) if tfrecord else check_readable(path)
  return paths
