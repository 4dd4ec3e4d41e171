"""Beam's `FileSystems` calls without importing Beam for local paths.

The in-memory engines read and write local files; importing `apache_beam`
only for its `FileSystems` costs about 1.5 CPU-seconds per process. `FileSystems`
here has the calls gcml makes (join, exists, mkdirs, open, create, match,
delete, rename) and does them the way Beam's `LocalFileSystem` does for a path
without a scheme: the same parent folders made by `create`, the same recursive
listing and pattern rules in `match` (`*` stops at `/`, `**` does not), the
same errors for a missing file to delete. A path with a scheme (`gs://...`) or
a compressed file opened with automatic compression (`.gz`, `.bz2`, ...) goes
to Beam's `FileSystems`, imported then.
"""

import io
import os
import re
import shutil
from typing import NamedTuple

_SCHEME = re.compile(r"(?P<scheme>[a-zA-Z][-a-zA-Z0-9+.]*)://.*")  # Beam's URI_SCHEMA_PATTERN
_COMPRESSED_SUFFIXES = (".bz2", ".deflate", ".gz", ".zst", ".zstd", ".xz", ".lzma")


def _beam():
  from apache_beam.io import filesystems  # pylint: disable=import-outside-toplevel
  return filesystems.FileSystems


def is_local(path: str) -> bool:
  """Whether Beam would hand `path` to its local file system (no `scheme://`).

  Args:
    path: a path or URL.

  Returns:
    True for a path without a scheme.
  """
  return _SCHEME.match(path.strip()) is None


def is_compressed(path: str) -> bool:
  """Whether Beam's automatic compression would decompress `path` (by its suffix).

  Args:
    path: a file path.

  Returns:
    True for `.gz`, `.bz2`, `.deflate`, `.zst`, `.zstd`, `.xz`, `.lzma` (any case).
  """
  return path.lower().endswith(_COMPRESSED_SUFFIXES)


def _plain(path: str, compression_type) -> bool:
  """A local path read or written as is (Beam's AUTO: by suffix)."""
  if not is_local(path):
    return False
  if compression_type == "uncompressed":
    return True
  return compression_type == "auto" and not is_compressed(path)


class FileMetadata(NamedTuple):
  """A matched file, as Beam's `FileMetadata`."""
  path: str
  size_in_bytes: int
  last_updated_in_seconds: float


class MatchResult(NamedTuple):
  """The files one pattern matched, as Beam's `MatchResult`."""
  pattern: str
  metadata_list: list


def translate_pattern(pattern: str) -> str:
  """Beam's `FileSystem.translate_pattern`: `*` is `[^/\\\\]*`, `**` is `.*`, else fnmatch.

  Args:
    pattern: a glob.

  Returns:
    The regular expression a whole path must match.
  """
  i, n, res = 0, len(pattern), ""
  while i < n:
    c = pattern[i]
    i += 1
    if c == "*":
      if i < n and pattern[i] == "*":
        res += ".*"
        i += 1
      else:
        res += r"[^/\\]*"
    elif c == "?":
      res += "."
    elif c == "[":
      j = i
      if j < n and pattern[j] == "!":
        j += 1
      if j < n and pattern[j] == "]":
        j += 1
      while j < n and pattern[j] != "]":
        j += 1
      if j >= n:
        res += r"\["
      else:
        stuff = pattern[i:j].replace("\\", "\\\\")
        i = j + 1
        if stuff[0] == "!":
          stuff = "^" + stuff[1:]
        elif stuff[0] == "^":
          stuff = "\\" + stuff
        res = f"{res}[{stuff}]"
    else:
      res += re.escape(c)
  return r"(?ms)" + res + r"\Z"


def _match_local(pattern: str) -> MatchResult:
  if pattern.endswith(("/", "\\")):
    pattern += "*"
  prefix = re.match(r"^[^[*?]*", pattern).group(0)
  if prefix == pattern:
    found = [pattern] if os.path.exists(pattern) else []
  else:
    root = os.path.dirname(prefix)
    regex = re.compile(translate_pattern(pattern))
    found = [] if not os.path.exists(root) else [
        p for p in (os.path.join(d, f) for d, _, files in os.walk(root) for f in files)
        if regex.match(p)]
  metadata = []
  for path in found:
    try:
      metadata.append(FileMetadata(path, os.path.getsize(path), os.path.getmtime(path)))
    except OSError:  # gone since listed, as Beam's listing skips it
      if prefix == pattern:
        raise
  return MatchResult(pattern, metadata)


class FileSystems:
  """The subset of `apache_beam.io.filesystems.FileSystems` gcml calls; Beam only for URLs."""

  @staticmethod
  def join(base: str, *paths: str) -> str:
    """`FileSystems.join`."""
    return os.path.join(base, *paths) if is_local(base) else _beam().join(base, *paths)

  @staticmethod
  def exists(path: str) -> bool:
    """`FileSystems.exists`."""
    return os.path.exists(path) if is_local(path) else _beam().exists(path)

  @staticmethod
  def mkdirs(path: str) -> None:
    """`FileSystems.mkdirs`: an error if the folder exists."""
    if not is_local(path):
      return _beam().mkdirs(path)
    os.makedirs(path)
    return None

  @staticmethod
  def open(path: str, mime_type: str = "application/octet-stream", compression_type="auto"):
    """`FileSystems.open`: a binary reader (`compression_type`: Beam's `CompressionTypes` value)."""
    if _plain(path, compression_type):
      return io.open(path, "rb")
    return _beam().open(path, mime_type, compression_type)

  @staticmethod
  def create(path: str, mime_type: str = "application/octet-stream", compression_type="auto"):
    """`FileSystems.create`: a binary writer; parent folders are made."""
    if _plain(path, compression_type):
      if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
      return io.open(path, "wb")
    return _beam().create(path, mime_type, compression_type)

  @staticmethod
  def match(patterns: list, limits=None) -> list:
    """`FileSystems.match` (no limits for local patterns)."""
    if limits is not None or not all(is_local(p) for p in patterns):
      return _beam().match(patterns, limits)
    return [_match_local(p) for p in patterns]

  @staticmethod
  def delete(paths: list) -> None:
    """`FileSystems.delete`: files or folders (recursively); an error if none matches."""
    if not all(is_local(p) for p in paths):
      return _beam().delete(paths)
    for result in FileSystems.match(paths):
      if not result.metadata_list:
        raise FileNotFoundError(f"No files found to delete under: {result.pattern}")
      for m in result.metadata_list:
        if os.path.isdir(m.path):
          shutil.rmtree(m.path)
        else:
          os.remove(m.path)
    return None

  @staticmethod
  def rename(sources: list, destinations: list) -> None:
    """`FileSystems.rename`."""
    if len(sources) != len(destinations):
      raise ValueError("rename: as many sources as destinations")
    if not all(is_local(p) for p in list(sources) + list(destinations)):
      return _beam().rename(sources, destinations)
    for source, destination in zip(sources, destinations):
      os.rename(source, destination)
    return None

