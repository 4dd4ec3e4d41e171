"""`pipelines/io/cluster_tables/reader.py`: assignment rows and the header."""

import pytest

from pipelines.io.cluster_tables import reader as tables
from pipelines.errors import InputError


def test_assignment_rows_and_header(tmp_path):
  assert tables.parse_assignment("x\tm\ts\tt", 3) == tables.Assignment("x", ("m", "s", "t"),
                                                                       "x\tm\ts\tt")
  assert tables.parse_assignment("id\tl0\tl1\tl2", 3) is None
  assert tables.parse_assignment("x\tm\ts", 3) == tables.WRONG_COLUMN_COUNT
  assert tables.parse_assignment("\tm\ts\tt", 3) == tables.EMPTY_ID
  assert tables.parse_assignment("x\tm\t\tt", 3) == tables.EMPTY_CLUSTER
  bad = tmp_path / "assignments-00000-of-00001.tsv"
  bad.write_text("item\tlevel0\nx\tm\n")
  with pytest.raises(InputError, match="expected a header"):
    tables.num_levels([str(bad)])
