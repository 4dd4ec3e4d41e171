"""`examples.local.inputs`: cluster tables read in memory, row for row as `parse_assignment`."""

from pipelines.examples.local import inputs
from pipelines.io.cluster_tables import reader as tables
from pipelines.io.rejected import Rejection


def _expected(lines, levels):
  rows, refused = [], []
  for line in lines:
    result = tables.parse_assignment(line, levels)
    if isinstance(result, tables.Assignment):
      rows.append(result)
    elif result is not None:
      refused.append(Rejection("s", result, line))
  return rows, refused


def test_plain_and_other_files_parse_as_parse_assignment(tmp_path):
  plain = ["id\tl0\tl1", "a\tc1\tp1", "b\tc2", "c\t\tp1", "id\tc3\tp2", "\t\t", "",
           "d\tc1\tp1\tx", "a\tc9\tp9"]
  spaced = ["id\tl0\tl1", " e \t c1\tp1", "f\tc1\tp1\r", "g\tc\u00e9\tp1", "h\tc1\tp1"]
  paths = []
  for name, lines in (("plain.tsv", plain), ("spaced.tsv", spaced)):
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    paths.append(str(path))
  rows, refused = inputs.read_assignments_local(paths, 2, "s")
  expected_rows, expected_refused = _expected(plain + [line.rstrip("\r") for line in spaced], 2)
  assert rows == expected_rows
  assert refused == expected_refused
  assert [r.id for r in rows] == ["a", "id", "a", "e", "f", "g", "h"]
  # the plain file takes the plain path (whole lines split on tabs); the spaced one does not
  assert inputs._plain_text([line.encode() for line in plain]) == plain  # pylint: disable=protected-access
  assert inputs._plain_text([line.encode() for line in spaced]) is None  # pylint: disable=protected-access
