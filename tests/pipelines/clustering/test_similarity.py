"""`--similarity=jaccard|adamic_adar`: edge weights from the graph, both engines alike."""

import glob
import math
import os

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from launch import main as gcml
from pipelines.io import sharded_io
from pipelines.clustering import similarity_local
from pipelines.clustering.similarity_beam import SimilarityWeights
from pipelines.io.edge_records import Edge
from tests.pipelines.clustering import graphs

# Triangle x-y-z, a tail z-w and a lone pair p-q; degrees x 2, y 2, z 3, w 1.
SMALL = [("p", "q"), ("w", "z"), ("x", "y"), ("x", "z"), ("y", "z")]
# Closed neighbourhoods: x-y share {x, y, z} of {x, y, z}; x-z share {x, y, z} of
# {x, y, z, w}; z-w share {z, w} of {x, y, z, w}.
JACCARD = {("p", "q"): 1.0, ("w", "z"): 0.5, ("x", "y"): 1.0, ("x", "z"): 0.75,
           ("y", "z"): 0.75}
# The common neighbour of x-y is z (degree 3), of x-z and y-z the other end
# (degree 2); z-w and p-q have none.
ADAMIC_ADAR = {("p", "q"): 0.0, ("w", "z"): 0.0, ("x", "y"): 1 / math.log(3),
               ("x", "z"): 1 / math.log(2), ("y", "z"): 1 / math.log(2)}


def _reference(pairs, similarity):
  """Plain-Python sets: the definition, edge by edge."""
  nbrs = {}
  for a, b in pairs:
    nbrs.setdefault(a, set()).add(b)
    nbrs.setdefault(b, set()).add(a)
  out = {}
  for a, b in pairs:
    if similarity == "jaccard":
      ca, cb = nbrs[a] | {a}, nbrs[b] | {b}
      out[(a, b)] = len(ca & cb) / len(ca | cb)
    else:
      out[(a, b)] = math.fsum(1 / math.log(len(nbrs[w])) for w in nbrs[a] & nbrs[b])
  return out


def _hub_graph():
  """A random graph plus a hub linked to every node (ties and triangles galore)."""
  pairs = {(min(a, b), max(a, b)) for a, b, _ in graphs.random_graph(4, 80, 300, False)}
  pairs |= {("h", f"n{i}") for i in range(80)}
  return sorted(pairs)


def _local(pairs, similarity):
  ids = sorted({x for p in pairs for x in p})
  index = {x: i for i, x in enumerate(ids)}
  src = np.array([index[a] for a, _ in pairs], np.int64)
  dst = np.array([index[b] for _, b in pairs], np.int64)
  weight = similarity_local.similarity_weights(len(ids), src, dst, similarity)
  return dict(zip(pairs, weight.tolist()))


@pytest.mark.parametrize("similarity,expected", [("jaccard", JACCARD),
                                                 ("adamic_adar", ADAMIC_ADAR)])
def test_hand_computed_weights_local(similarity, expected):
  assert _local(SMALL, similarity) == expected
  assert _reference(SMALL, similarity) == expected


@pytest.mark.parametrize("similarity", ["jaccard", "adamic_adar"])
def test_local_equals_the_definition_with_a_hub(similarity):
  pairs = _hub_graph()
  assert _local(pairs, similarity) == _reference(pairs, similarity)


def test_beam_weights_equal_local_bits():
  hub = _hub_graph()
  with TestPipeline(runner=graphs.RUNNER) as p:
    for similarity, pairs, expected in [
        ("jaccard", SMALL, JACCARD), ("adamic_adar", SMALL, ADAMIC_ADAR),
        ("jaccard", hub, _local(hub, "jaccard")),
        ("adamic_adar", hub, _local(hub, "adamic_adar"))]:
      name = f"{similarity}{len(pairs)}"
      got = (p | f"Edges{name}" >> beam.Create([Edge(a, b, 1.0) for a, b in pairs])
             | f"Weights{name}" >> SimilarityWeights(similarity, partitions=3)
             | f"Plain{name}" >> beam.Map(tuple))
      assert_that(got, equal_to([(a, b, w) for (a, b), w in expected.items()]),
                  label=f"Check{name}")


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
