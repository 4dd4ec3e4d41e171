"""Modalities named at most once: detected from the feature records, then passed on.

A modality is a float feature of the feature records (contract 2), with its
size. A stage that reads feature files and is not given `--modalities`
detects them (`detect`): in each file, the set of non-empty float features
(name:size) that most of its first `SAMPLE_RECORDS` records carry; files that
disagree are refused in one line naming two of them. Given `--modalities` are
checked (`check_given`): when no sampled record carries them all, with those
sizes, the one-line error says what the records do carry.

Each stage records the modalities it used in its section of `summary.json`
(`modalities`: `name:dim,...`); the next stage reads them from there
(`recorded`) when the user names none, and refuses a named set that
disagrees (`check_agrees`).
"""

import collections
import concurrent.futures
import os

from pipelines.io.file_system import FileSystems

from pipelines.io import feature_batches, summary, tf_example
from pipelines.io import tfrecord_frames
from pipelines.errors import InputError
from pipelines.io.modality_spec import canonical_order, modalities_flag, parse_modalities, same

SAMPLE_RECORDS = 16
READ_THREADS = 16  # files sampled at once by `detect`


def record_modalities(data: bytes) -> tuple | None:
  """The (name, size) of every non-empty float feature of one record; None if unreadable.

  Args:
    data: one serialized feature record.

  Returns:
    (name, size) pairs in canonical order, or None.
  """
  sizes = feature_batches.float_sizes(data)  # plain records: without protobuf
  if sizes is None:
    try:
      feats = tf_example.parse(data)
    except ValueError:
      return None
    sizes = {name: len(v) for name, v in feats.items() if hasattr(v, "dtype")}
  found = [(name, size) for name, size in sizes.items() if size]
  return canonical_order(found) if found else None


def _sampled(path: str):
  """The modalities of the first SAMPLE_RECORDS readable records of one file."""
  out = []
  with FileSystems.open(path) as f:  # corrupt frames are skipped: readers count them
    for data in tfrecord_frames.scan_tfrecords(f):
      mods = None if isinstance(data, tfrecord_frames.CorruptFrame) else record_modalities(data)
      if mods is not None:
        out.append(mods)
      if len(out) >= SAMPLE_RECORDS:
        break
  return out


def file_modalities(path: str) -> tuple | None:
  """What most of the file's first records carry (ties: the first seen); None if none.

  Args:
    path: one feature file.

  Returns:
    (name, size) pairs, or None.
  """
  sampled = _sampled(path)
  if not sampled:
    return None
  counts = collections.Counter(sampled)
  return max(counts, key=lambda mods: (counts[mods], -sampled.index(mods)))


def detect(paths: list[str], what: str = "--features") -> tuple:
  """The modalities the feature files carry.

  Args:
    paths: feature TFRecord files.
    what: the flag named in errors.

  Returns:
    Modalities in `canonical_order`.

  Raises:
    InputError: two files carry different modalities, or no record has a float feature.
  """
  first = None
  with concurrent.futures.ThreadPoolExecutor(READ_THREADS) as pool:  # object stores: latency
    found = list(pool.map(file_modalities, paths))
  for path, mods in zip(paths, found):
    if mods is None:
      continue
    if first is None:
      first = (mods, path)
    elif mods != first[0]:
      raise InputError(
          f"{what}: {first[1]} carries {modalities_flag(first[0])} but {path} carries "
          f"{modalities_flag(mods)}; feature files must carry the same modalities "
          "(keep one kind of file, or name the ones to use with --modalities)")
  if first is None:
    raise InputError(f"{what}: no record of the {len(paths)} file(s) carries a float feature "
                     "(a modality): not feature records (contract 2)?")
  return first[0]


def check_given(given, paths: list[str], what: str = "--features") -> None:
  """Refuses modalities that no sampled record carries, saying what the records carry.

  Files without a readable record say nothing either way (the stage then
  counts what it reads).

  Args:
    given: the modalities named on the command line.
    paths: the feature files.
    what: the flag that named the files, for the message.

  Raises:
    InputError: records were sampled and none has every given modality with its size.
  """
  carried = {}
  want = {(name, int(dim)) for name, dim in given}
  for path in paths:
    for mods in _sampled(path):
      if want <= set(mods):
        return
      carried.setdefault(mods, path)
  if not carried:
    return
  shown = "; ".join(f"{modalities_flag(m)} ({os.path.basename(p)})" for m, p in carried.items())
  raise InputError(f"modalities {modalities_flag(given)}: no record of {what} carries them; "
                   f"the records carry {shown}")


def recorded(directory: str, stage: str) -> tuple | None:
  """The modalities recorded in `directory/summary.json` under `stage`, if any.

  Args:
    directory: an upstream stage's output folder.
    stage: that stage's name.

  Returns:
    The recorded (name, size) pairs, or None.
  """
  path = FileSystems.join(directory, summary.SUMMARY_NAME)
  try:
    value = summary.read_json(path).get(stage, {}).get("modalities")
  except (ValueError, AttributeError):
    return None
  return parse_modalities(value) if isinstance(value, str) and value else None


def directory_of(glob: str) -> str:
  """The folder of the first glob of a comma-separated list.

  Args:
    glob: one or more comma-separated globs.

  Returns:
    The folder, or `.`.
  """
  first = glob.split(",")[0].strip()
  return first.rsplit("/", 1)[0] if "/" in first else "."


def check_agrees(given, upstream, given_what: str, upstream_what: str) -> None:
  """Raises InputError naming both sets when they differ.

  Args:
    given: modalities of this stage.
    upstream: modalities an upstream stage recorded.
    given_what: where `given` came from, for the message.
    upstream_what: where `upstream` came from.
  """
  if upstream is not None and not same(given, upstream):
    raise InputError(f"{given_what} names modalities {modalities_flag(given)} but "
                     f"{upstream_what} records {modalities_flag(upstream)}; name the same "
                     "ones, or leave --modalities out to use the recorded ones")


def resolve(given, paths: list[str], what: str = "--features") -> tuple:
  """Given modalities checked against the files, or (None) detected from them.

  Args:
    given: parsed `--modalities`, or None when the user named none.
    paths: the feature files.
    what: the flag named in errors.

  Returns:
    The modalities to use.
  """
  if given:
    check_given(given, paths, what)
    return tuple(given)
  return detect(paths, what)


def parse_flag(value: str | None):
  """`--modalities` parsed, or None when not given (detect or read upstream).

  Args:
    value: the flag's text, or None.

  Returns:
    The modalities, or None.
  """
  return parse_modalities(value) if value else None


def settle(given, paths: list[str], upstream_dir: str, upstream_stage: str,
           what: str = "--features") -> tuple:
  """The modalities of a stage that follows `upstream_stage`'s output in `upstream_dir`.

  Args:
    given: parsed `--modalities`, or None.
    paths: the feature files the stage reads.
    upstream_dir: the folder of the upstream stage's `summary.json`.
    upstream_stage: its section.
    what: the flag of `paths`, named in errors.

  Returns:
    The given modalities (which must agree with the recorded ones), else the
    recorded ones, else those detected from the files; checked against the files.
  """
  upstream = recorded(upstream_dir, upstream_stage)
  if given:
    check_agrees(given, upstream, "--modalities", FileSystems.join(
        upstream_dir, summary.SUMMARY_NAME) + f" (gcml {upstream_stage})")
  return resolve(given or upstream, paths, what)
