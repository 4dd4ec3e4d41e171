"""Features and cluster tables read in memory, as `ReadFeatures` and `ReadAssignments` read them.

Features: `record_checks.read_checked_local` with `features.feature_checks`:
every TFRecord frame of every file, each record validated by
`features.parse_item`; of several records with one id the one whose bytes
sort first is kept and the others are `duplicate_id`. Cluster
tables: lines split as Beam's text source splits them (`\\n` or `\\r\\n`; a
last line without a newline counts), each parsed by
`tables.parse_assignment`.
"""

import dataclasses

from apache_beam.io.filesystems import FileSystems

from pipelines.io import features as features_lib
from pipelines.io import record_checks
from pipelines.errors import InputError
from pipelines.io.cluster_tables import reader as tables
from pipelines.io.rejected import Rejection


@dataclasses.dataclass
class LocalFeatures:
  """One `features.Item` per valid id, and what the readers refused."""
  items: dict  # id -> Item
  rejections: list
  stats: dict


def read_features_local(paths: list, modalities, stage: str,
                        max_abs_feature: float = features_lib.DEFAULT_MAX_ABS_FEATURE
                        ) -> LocalFeatures:
  """Reads and validates feature records like `features.ReadFeatures`.

  Args:
    paths: TFRecord files (already checked).
    modalities: the float features every record must have.
    stage: stage name written in rejections.
    max_abs_feature: largest magnitude a feature value may have.

  Returns:
    The kept items, the rejections and the `features/valid_items` count.
  """
  return LocalFeatures(*record_checks.read_checked_local(
      paths, features_lib.feature_checks(modalities, max_abs=max_abs_feature), stage))


def text_lines(path: str):
  """Yields the lines of a text file as Beam's text source does (bytes, no line break).

  Args:
    path: the text file (any Beam file system, compressed or not).

  Yields:
    Each line's bytes.
  """
  with FileSystems.open(path) as f:
    data = f.read()
  lines = data.split(b"\n")
  if lines and lines[-1] == b"":
    lines.pop()
  last = len(lines) - 1
  for i, line in enumerate(lines):
    if line.endswith(b"\r") and (i < last or data.endswith(b"\n")):
      line = line[:-1]
    yield line


def read_assignments_local(paths: list, levels: int, stage: str):
  """Reads `assignments-*.tsv` rows like `tables.ReadAssignments`.

  Args:
    paths: the assignment files.
    levels: the tables' levels.
    stage: the stage name, for rejections.

  Returns:
    (Assignment rows, ids may repeat; rejections).
  """
  rows, rejections = [], []
  for path in paths:
    try:
      lines = list(text_lines(path))
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
    for raw in lines:
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError:
        rejections.append(Rejection(stage, tables.NOT_UTF8,
                                    raw.decode("utf-8", errors="replace")))
        continue
      result = tables.parse_assignment(line, levels)
      if isinstance(result, tables.Assignment):
        rows.append(result)
      elif result is not None:
        rejections.append(Rejection(stage, result, line))
  return rows, rejections
