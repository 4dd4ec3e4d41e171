"""`pipelines/clustering/contract_beam.py`: contracting the graph of a round's clusters
(TestPipeline + assert_that)."""

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clustering.contract_beam import ContractGraph
from pipelines.clustering.partitioned import chunks
from tests.pipelines.clustering import graphs

RUNNER = graphs.RUNNER


def _chunked(p, label, records):
  return p | label >> beam.Create(list(chunks(records)))


def _records(pcoll, label):
  return pcoll | label >> beam.FlatMap(lambda chunk: chunk)


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
