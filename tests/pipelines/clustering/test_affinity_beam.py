"""`pipelines/clustering/affinity_beam.py`: best neighbours and pointer jumping, transform by
transform (TestPipeline + assert_that)."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clustering import jump_passes
from pipelines.clustering.affinity_beam import BestNeighbours, PointerJumpComponents
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
