"""The trainer's input files: which names a glob means, and whole shard sets.

`list_files` turns `--train_data` / `--eval_data` globs into example shards,
skipping side files a glob such as `DIR/*` also matches, and applies the
readers' shard-set rule (`pipelines/io/shard_sets.py`) through TensorFlow's file
API (the trainer image has no Beam GCS extra): a killed `gcml examples` (its
set without a manifest, or fewer shards than its `-of-N`) or two runs' sets
mixed in one folder is a one-line `ConfigError`. `first_record` reads a
shard's first record with gcml's own TFRecord reader (`tfrecord_frames`, both
checksums checked): a truncated or corrupt first frame is a one-line
`ConfigError` too.
"""

import logging
import os

import tensorflow as tf

from model.errors import ConfigError
from pipelines.io import shard_sets
from pipelines.io import tfrecord_frames
from pipelines.errors import InputError

# Names a glob over a stage's output also matches that are not example shards:
# summary.json, classes.tsv, rejected/, manifests, temporaries of killed runs.
SIDE_FILE_SUFFIXES = (".json", ".tsv", ".csv", ".txt", ".md")

log = logging.getLogger(__name__)


def _is_side_file(path: str) -> bool:
  name = os.path.basename(path.rstrip("/"))
  return (name.startswith((".", "_")) or name.endswith(SIDE_FILE_SUFFIXES) or
          tf.io.gfile.isdir(path))


class _TensorFlowFiles:
  """`shard_sets`' file operations on TensorFlow's file systems (no Beam GCS extra)."""

  join = staticmethod(os.path.join)
  exists = staticmethod(tf.io.gfile.exists)

  @staticmethod
  def open(path: str):
    return tf.io.gfile.GFile(path, "rb")

  @staticmethod
  def sizes(directory: str, names: list[str]) -> dict:
    paths = {n: os.path.join(directory, n) for n in names}
    return {n: tf.io.gfile.stat(p).length for n, p in paths.items() if tf.io.gfile.exists(p)}


def check_shard_sets(files: list[str], flag: str, wildcard: bool = True) -> None:
  """The readers' shard-set rule (`pipelines/io/shard_sets.py`) on the trainer's input.

  A set with a `_MANIFEST-*.json` (every gcml output) must be whole and of
  one run; a glob over a set without one must not match a partial or mixed
  `-of-N` set (a killed `gcml examples`).

  Raises:
    ConfigError: one line naming the set and what is wrong with it.
  """
  try:
    shard_sets.check_paths(files, flag, wildcard=wildcard, files=_TensorFlowFiles())
  except InputError as e:
    raise ConfigError(str(e)) from None


def list_files(file_pattern: str, flag: str = "--train_data", note: bool = False,
               check_sets: bool = True) -> list[str]:
  """The example shards matching `file_pattern` (comma-separated globs).

  Directories, hidden or `_`-prefixed names and side files (`.json`, `.tsv`,
  ...) that a glob such as `DIR/*` also matches are skipped (logged with `note`).
  With `check_sets`, the shards of each glob must be whole shard sets
  (`check_shard_sets`; the trainer's preflight checks them once, and the
  `tf.data` input of every worker lists them again without the check).

  Raises:
    ConfigError: a glob matches nothing, or nothing but skipped names, or a
      partial or mixed shard set.
  """
  files, skipped = [], []
  for pattern in file_pattern.split(","):
    found = sorted(tf.io.gfile.glob(pattern.strip()))
    if not found:
      raise ConfigError(f"{flag}: no file matches {pattern.strip()}")
    shards = []
    for path in found:
      (skipped if _is_side_file(path) else shards).append(path)
    if check_sets:
      check_shard_sets(shards, flag, wildcard=any(c in pattern for c in "*?["))
    files += shards
  if skipped and note:
    log.info("%s: skipping %d names that are not example shards: %s", flag, len(skipped),
             ", ".join(os.path.basename(p.rstrip("/")) for p in skipped))
  if not files:
    raise ConfigError(f"{flag}: {file_pattern} matches no example shard, only "
                      f"{', '.join(os.path.basename(p.rstrip('/')) for p in skipped)}")
  return files


class _SmallReads:
  """An open file read at most 64 KiB at a time.

  `tfrecord_frames` reads 4 MiB at a time; for one first record per shard that
  would read 4 MiB of every shard. It reads again until a frame is whole.
  """

  def __init__(self, f):
    self.f = f

  def read(self, size: int) -> bytes:
    return self.f.read(min(size, 64 << 10))


def first_record(path: str, flag: str) -> bytes | None:
  """The first record of a TFRecord file, its length and data checksums checked.

  Args:
    path: one TFRecord file (any file system TensorFlow reads).
    flag: the flag named in the errors.

  Returns:
    The record's bytes, or None for an empty file.

  Raises:
    ConfigError: one line naming the file: it cannot be read, it is shorter
      than one frame, or the first frame fails its checksums.
  """
  # gcml's own reader (`pipelines/io/tfrecord_frames.py`) on TensorFlow's file
  # API, not tf.data: these checks run before the strategy is made, and an
  # eager tf.data op would start TensorFlow's runtime too early for
  # MultiWorkerMirroredStrategy ("Collective ops must be configured at program
  # startup"). TensorFlow's own record iterator is deprecated (a 4-line warning).
  try:
    with tf.io.gfile.GFile(path, "rb") as f:
      return next(tfrecord_frames.read_tfrecords(_SmallReads(f)), None)
  except ValueError as e:
    raise ConfigError(f"{flag}: {path} is not a TFRecord file ({e})") from None
  except tf.errors.OpError as e:
    raise ConfigError(f"{flag}: {path} is not a TFRecord file "
                      f"({e.__class__.__name__})") from None
