"""The Beam round transforms one by one (TestPipeline + assert_that), and Beam == local."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clustering import jump_passes
from pipelines.clustering.affinity_beam import (BestNeighbours, ContractGraph,
                                                PointerJumpComponents)
from pipelines.clustering.partitioned import chunks
from tests.pipelines.clustering import graphs

RUNNER = graphs.RUNNER


def _chunked(p, label, records):
  return p | label >> beam.Create(list(chunks(records)))


def _records(pcoll, label):
  return pcoll | label >> beam.FlatMap(lambda chunk: chunk)


def test_best_neighbours_ties_ignored_edges_and_cap():
  seed = 3
  tie_winner = graphs.smaller_hash(seed, "b", "c")
  edges = [("a", "b", 2.0, 1, 1), ("a", "c", 2.0, 1, 1), ("c", "d", 1.0, 1, 1),
           ("d", "e", 9.0, 3, 2)]  # d+e = 5 > cap 4: not a candidate
  ignored = [("e", "f")]
  expected = [("a", tie_winner, 1, 1), ("b", "a", 1, 1), ("c", "a", 1, 1),
              ("d", "c", 1, 1), ("e", None, 1, 1), ("f", None, 1, 1)]
  with TestPipeline(runner=RUNNER) as p:
    best = ((_chunked(p, "Edges", edges), _chunked(p, "Ignored", ignored))
            | BestNeighbours(partitions=2, seed=seed, max_cluster_size=4))
    got = _records(best, "Records") | beam.Map(lambda b: b if b[1] else (b[0], None, 1, 1))
    assert_that(got, equal_to(expected))


def _chain_best(n):
  names = [f"v{i:05d}" for i in range(n)]
  best = [(names[i], names[i + 1], 1, 1) for i in range(n - 1)] + [(names[-1], names[-2], 1, 1)]
  root = names[-2]
  labels = [(x, root, 1, 2 if x in names[-2:] else 0) for x in names]
  return best, labels


def test_pointer_jumping_resolves_a_long_chain_with_the_bound_passes():
  n = 5000
  best, labels = _chain_best(n)
  with TestPipeline(runner=RUNNER) as p:
    got = (_chunked(p, "Best", best)
           | PointerJumpComponents(passes=jump_passes(n), partitions=4))
    assert_that(_records(got, "Records"), equal_to(labels))


def test_pointer_jumping_fails_loudly_with_too_few_passes():
  best, _ = _chain_best(300)
  passes = jump_passes(300) - 1
  with pytest.raises(Exception, match=f"unresolved after {passes} passes"):
    with TestPipeline(runner=RUNNER) as p:
      _ = _chunked(p, "Best", best) | PointerJumpComponents(passes=passes, partitions=2)


@pytest.mark.parametrize("linkage,a_c", [("max", 2.0), ("sum", 4.0), ("average", 4.0)])
def test_contract_graph_linkages(linkage, a_c):
  """L0 pairs a, b, c (c has 3 items); average keeps the exact sum, divided when compared."""
  edges = [("a1", "a2", 10.0, 1, 1), ("b1", "b2", 10.0, 1, 1), ("c1", "c2", 10.0, 1, 1),
           ("c2", "c3", 9.0, 1, 1), ("a1", "b1", 3.0, 1, 1), ("a1", "c1", 2.0, 1, 1),
           ("a2", "c3", 2.0, 1, 1)]
  labels = [("a1", "a1", 1, 2), ("a2", "a1", 1, 2), ("b1", "b1", 1, 2), ("b2", "b1", 1, 2),
            ("c1", "c1", 1, 2), ("c2", "c1", 1, 2), ("c3", "c1", 1, 0)]
  with TestPipeline(runner=RUNNER) as p:
    contracted, members = ((_chunked(p, "Edges", edges), _chunked(p, "Labels", labels))
                           | ContractGraph(partitions=3, linkage=linkage))
    assert_that(_records(contracted, "E"), equal_to(
        [("a1", "b1", 3.0, 2, 2), ("a1", "c1", a_c, 2, 3)]), label="Edges")
    assert_that(_records(members, "M"), equal_to(
        [(x, x[0] + "1", 3 if x[0] == "c" else 2) for x, _, _, _ in labels]), label="Members")


def test_contract_graph_splits_components_over_the_cap():
  edges = [("a", "b", 5.0, 1, 1), ("b", "c", 4.0, 1, 1), ("c", "d", 1.0, 1, 1)]
  labels = [("a", "a", 1, 2), ("b", "a", 1, 2), ("c", "a", 1, 0)]
  with TestPipeline(runner=RUNNER) as p:
    contracted, members = ((_chunked(p, "Edges", edges), _chunked(p, "Labels", labels))
                           | ContractGraph(partitions=2, max_cluster_size=2))
    assert_that(_records(members, "M"), equal_to(
        [("a", "a", 2), ("b", "a", 2), ("c", "c", 1)]), label="Members")
    assert_that(_records(contracted, "E"), equal_to(
        [("a", "c", 4.0, 2, 1), ("c", "d", 1.0, 1, 1)]), label="Edges")


@pytest.mark.parametrize("linkage,cap,seed", [("max", 0, 0), ("sum", 0, 4), ("average", 6, 2)])
def test_beam_equals_local_on_random_graphs_with_ties(linkage, cap, seed):
  edges = graphs.random_graph(seed, 250, 600, distinct=False)
  expected = graphs.local_assignments(edges, linkage=linkage, cap=cap, seed=seed,
                                      min_weight=1.5)
  graphs.beam_matches(edges, expected, linkage=linkage, cap=cap, seed=seed, min_weight=1.5)
