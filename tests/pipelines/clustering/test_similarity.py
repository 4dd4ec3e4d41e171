"""`gcml cluster --similarity=jaccard|adamic_adar` end to end: the weight threshold applies to the
derived weight and both engines write the same bytes. (The weights themselves:
test_similarity_local.py and test_similarity_beam.py.)"""

import glob
import os

import pytest

from launch import main as gcml
from pipelines.io import sharded_io
from tests.pipelines.clustering import graphs
from tests.pipelines.clustering.similarity_cases import SMALL
from tests.pipelines.clustering.similarity_cases import hub_graph as _hub_graph


def _cluster(tmp_path, name, *flags):
  out = tmp_path / name
  assert gcml.main(["cluster", f"--edges={tmp_path}/edges.csv", f"--output_dir={out}",
                    "--cluster_all_edges", *flags]) == 0
  return {os.path.relpath(os.path.join(d, f), out): open(os.path.join(d, f), "rb").read()
          for d, _, names in os.walk(out) for f in names}


def _assignments(tmp_path, name):
  paths = sorted(glob.glob(sharded_io.shard_glob(str(tmp_path / name / "assignments"), ".tsv")))
  rows = [line.split("\t") for p in paths for line in open(p, encoding="utf-8").read()
          .splitlines()[1:]]
  return {r[0]: r[1:] for r in rows}


def test_min_weight_applies_to_the_derived_weight(tmp_path):
  (tmp_path / "edges.csv").write_text("".join(f"{a},{b}\n" for a, b in SMALL), encoding="utf-8")
  _cluster(tmp_path, "j", "--engine=local", "--similarity=jaccard", "--min_weight=0.8")
  got = _assignments(tmp_path, "j")
  assert {x: reps[0] for x, reps in got.items()} == {
      "p": "l0-p", "q": "l0-p", "x": "l0-x", "y": "l0-x", "z": "l0-z", "w": "l0-w"}


@pytest.mark.parametrize("similarity", ["jaccard", "adamic_adar"])
def test_engines_write_the_same_bytes(tmp_path, similarity):
  pairs = _hub_graph() + [(a, b) for a, b, _ in graphs.random_graph(5, 60, 150, False, "m")]
  (tmp_path / "edges.csv").write_text("".join(f"{a},{b}\n" for a, b in pairs),
                                      encoding="utf-8")
  flags = [f"--similarity={similarity}", "--linkage=average", "--seed=2"]
  local = _cluster(tmp_path, "local", "--engine=local", *flags)
  beam_out = _cluster(tmp_path, "beam", "--engine=beam", "--runner=FnApiRunner",
                      "--partitions=3", *flags)
  assert beam_out == local
  plain = _cluster(tmp_path, "plain", "--engine=local", "--linkage=average", "--seed=2")
  assert plain["assignments-00000-of-00001.tsv"] != local["assignments-00000-of-00001.tsv"]
