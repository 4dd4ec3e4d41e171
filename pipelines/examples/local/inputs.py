"""Cluster tables read in memory, as `ReadAssignments` reads them.

(Features are read by `io.features.read_features_local`.) Lines are split as
Beam's text source splits them (`\\n` or `\\r\\n`; a
last line without a newline counts), each parsed by
`tables.parse_assignment`.
"""

from pipelines.io.file_system import FileSystems

from pipelines.errors import InputError
from pipelines.io.cluster_tables import reader as tables
from pipelines.io.rejected import Rejection


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
