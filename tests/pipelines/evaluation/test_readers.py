"""`readers.read_test_edges`: the test items' edges, whatever names the format."""

import pytest

from pipelines.errors import InputError
from pipelines.evaluation import readers
from tests.pipelines import files

LINES = ["src,dst,weight", "b,a,2", "a,c,1", "c,d,1", "d,d,1", "a,b,x"]


def test_read_test_edges_resolves_auto_from_the_extension(tmp_path):
  path = files.write_text(str(tmp_path / "edges-0.csv"), LINES)
  keep = {"a", "b", "c"}.__contains__  # "d" is not a test item
  assert readers.read_test_edges([path], "auto", keep) == {("a", "b"), ("a", "c")}
  assert readers.read_test_edges([path], "csv", keep) == {("a", "b"), ("a", "c")}


def test_read_test_edges_refuses_auto_on_an_unknown_extension(tmp_path):
  path = files.write_text(str(tmp_path / "edges-0.txt"), LINES)
  with pytest.raises(InputError, match="cannot tell the format"):
    readers.read_test_edges([path], "auto", lambda _: True)
