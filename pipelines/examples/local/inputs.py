"""Cluster tables read in memory, as `ReadAssignments` reads them.

(Features are read by `io.features.read_features_local`.) Lines are split as
Beam's text source splits them (`\\n` or `\\r\\n`; a
last line without a newline counts), each parsed by
`tables.parse_assignment`.
"""

import re

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
    plain = _plain_text(lines)
    if plain is not None:
      rows += _plain_rows(plain, levels, stage, rejections)
      continue
    for raw in lines:
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError:
        rejections.append(Rejection(stage, tables.NOT_UTF8,
                                    raw.decode("utf-8", errors="replace")))
        continue
      _parse_line(line, levels, stage, rows, rejections)
  return rows, rejections


def _parse_line(line: str, levels: int, stage: str, rows: list, rejections: list) -> None:
  """`tables.parse_assignment` of one line: its row, its rejection, or nothing (a header)."""
  result = tables.parse_assignment(line, levels)
  if isinstance(result, tables.Assignment):
    rows.append(result)
  elif result is not None:
    rejections.append(Rejection(stage, result, line))


# ASCII without space, control but tab, DEL; `\n` only as the separator `_plain_text` joins with
_NOT_PLAIN = re.compile(rb"[^\x21-\x7e\t\n]")


def _plain_text(lines: list) -> list | None:
  """The lines as str when every byte is printable ASCII or a tab (no whitespace to strip)."""
  data = b"\n".join(lines)
  if _NOT_PLAIN.search(data):
    return None
  return data.decode("ascii").split("\n") if lines else []


def _plain_rows(lines: list, levels: int, stage: str, rejections: list) -> list:
  """`tables.parse_assignment` of plain lines: a row of `levels` + 1 non-empty fields is an
  `Assignment` as it would parse it (no field has whitespace to strip); any other line
  (header, blank, wrong count, empty field) goes through `parse_assignment` itself."""
  rows = []
  width = levels + 1
  for line in lines:
    fields = line.split("\t")
    if len(fields) == width and all(fields) and fields[0] != "id":
      rows.append(tables.Assignment(fields[0], tuple(fields[1:]), line))
      continue
    _parse_line(line, levels, stage, rows, rejections)
  return rows
