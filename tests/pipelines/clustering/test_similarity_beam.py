"""`pipelines/clustering/similarity_beam.py`: the Beam edge weights equal the in-memory ones,
bit for bit (TestPipeline + assert_that)."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clustering.similarity_beam import SimilarityWeights
from pipelines.io.edge_records import Edge
from tests.pipelines.clustering import graphs
from tests.pipelines.clustering.similarity_cases import ADAMIC_ADAR, JACCARD, SMALL
from tests.pipelines.clustering.similarity_cases import hub_graph as _hub_graph
from tests.pipelines.clustering.similarity_cases import local_weights as _local


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
