"""`pipelines/clustering/similarity_local.py`: Jaccard and Adamic-Adar edge weights in memory,
by hand and against the definition."""

import pytest

from tests.pipelines.clustering.similarity_cases import ADAMIC_ADAR, JACCARD, SMALL
from tests.pipelines.clustering.similarity_cases import hub_graph as _hub_graph
from tests.pipelines.clustering.similarity_cases import local_weights as _local
from tests.pipelines.clustering.similarity_cases import reference as _reference


@pytest.mark.parametrize("similarity,expected", [("jaccard", JACCARD),
                                                 ("adamic_adar", ADAMIC_ADAR)])
def test_hand_computed_weights_local(similarity, expected):
  assert _local(SMALL, similarity) == expected
  assert _reference(SMALL, similarity) == expected


@pytest.mark.parametrize("similarity", ["jaccard", "adamic_adar"])
def test_local_equals_the_definition_with_a_hub(similarity):
  pairs = _hub_graph()
  assert _local(pairs, similarity) == _reference(pairs, similarity)
