"""`launch/cluster.py`: `gcml cluster` hands its flags to the clustering stage."""

import pytest

from launch import cluster
from pipelines.errors import InputError
from tests.pipelines import files


def test_main_clusters_the_edges(tmp_path):
  # A triangle a-b-c and a pair d-e: two clusters at every level, named by their smallest id.
  edges = files.write_text(f"{tmp_path}/edges.csv", ["a,b,3", "b,c,2", "c,a,1", "d,e,4"])
  assert cluster.main([f"--edges={edges}", f"--output_dir={tmp_path}/out", "--engine=local",
                       "--test_fraction=0"]) == 0
  assignments = (tmp_path / "out" / "assignments-00000-of-00001.tsv").read_text().splitlines()
  assert assignments == ["id\tl0\tl1\tl2", "a\tl0-a\tl1-a\tl2-a", "b\tl0-a\tl1-a\tl2-a",
                         "c\tl0-a\tl1-a\tl2-a", "d\tl0-d\tl1-d\tl2-d", "e\tl0-d\tl1-d\tl2-d"]


def test_main_reports_a_missing_input_as_an_input_error(tmp_path):
  with pytest.raises(InputError, match=r"^--edges: no file matches: .*/none-\*\.csv$"):
    cluster.main([f"--edges={tmp_path}/none-*.csv", f"--output_dir={tmp_path}/out"])
