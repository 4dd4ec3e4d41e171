"""`gcml cluster` clusters the train-train subgraph by default (DESIGN.md, "Cold-start split").

The reproducer of issue 13: train items a0, b0 (with train partners a1, b1),
test items t2, u3; edges a0-t2 (3), t2-u3 (5), u3-b0 (3). On the whole graph
t2-u3 is the mutual pair that a0 and b0 both hang on, so the test-test edge
puts them in one L0 cluster; on the train-train subgraph they never meet.
"""


import pytest

from launch import main as gcml
from pipelines import split
from tests.pipelines.clustering import graphs

EDGES = "a0,t2,3\nt2,u3,5\nu3,b0,3\na0,a1,1\nb0,b1,1\n"


def test_the_ids_lie_on_the_intended_sides():
  assert [split.is_train(x) for x in ("a0", "a1", "b0", "b1")] == [True] * 4
  assert split.is_test("t2") and split.is_test("u3")


def _cluster(tmp_path, name, *flags):
  return graphs.run_cluster_command(tmp_path, name, EDGES, *flags)


@pytest.mark.parametrize("engine", ["local", "beam"])
def test_default_clusters_train_train_only(tmp_path, engine):
  got, section, _ = _cluster(tmp_path, "out", f"--engine={engine}", "--runner=FnApiRunner")
  assert sorted(got) == ["a0", "a1", "b0", "b1"]  # test items are not in the tables
  assert got["a0"][0] == got["a1"][0] == "l0-a0" and got["b0"][0] == "l0-b0"
  assert got["a0"][2] != got["b0"][2]
  assert section["edges/touching_test"] == 3
  assert section["split"] == {"scheme": "blake2b64-utf8", "test_fraction": 0.3,
                              "validation_fraction": 0.1, "clustered_edges": "train_train"}


def test_cluster_all_edges_keeps_the_test_edges(tmp_path):
  got, section, _ = _cluster(tmp_path, "out", "--engine=local", "--cluster_all_edges")
  assert got["a0"][0] == got["b0"][0] == got["t2"][0] == "l0-t2"
  assert "edges/touching_test" not in section
  assert section["split"]["clustered_edges"] == "all"


def test_test_fraction_moves_the_split(tmp_path):
  _, section, _ = _cluster(tmp_path, "out", "--engine=local", "--test_fraction=0")
  assert section["edges/touching_test"] == 0 and section["items"] == 6
  assert section["split"]["test_fraction"] == 0.0
  _, section, _ = _cluster(tmp_path, "all", "--engine=local", "--test_fraction=1",
                           "--validation_fraction=0")
  assert section["edges/touching_test"] == 5 and section["items"] == 0


@pytest.mark.parametrize("flags", [[], ["--cluster_all_edges"]])
def test_engines_write_the_same_bytes(tmp_path, flags):
  _, _, local = _cluster(tmp_path, "local", "--engine=local", *flags)
  _, _, beam = _cluster(tmp_path, "beam", "--engine=beam", "--runner=FnApiRunner", *flags)
  assert beam == local


def test_bad_test_fraction_is_one_line(tmp_path, capsys):
  code = gcml.main(["cluster", f"--edges={tmp_path}/x.csv", f"--output_dir={tmp_path}/o",
                    "--test_fraction=1.5"])
  err = capsys.readouterr().err.strip()
  assert code == 2 and "--test_fraction must be in [0, 1]" in err and "\n" not in err
