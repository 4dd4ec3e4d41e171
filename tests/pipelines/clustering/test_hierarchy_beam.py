"""`pipelines/clustering/hierarchy_beam.py`: the Beam clustering equals the in-memory one."""

import pytest

from tests.pipelines.clustering import graphs


@pytest.mark.parametrize("linkage,cap,seed", [("max", 0, 0), ("sum", 0, 4), ("average", 6, 2)])
def test_beam_equals_local_on_random_graphs_with_ties(linkage, cap, seed):
  edges = graphs.random_graph(seed, 250, 600, distinct=False)
  expected = graphs.local_assignments(edges, linkage=linkage, cap=cap, seed=seed,
                                      min_weight=1.5)
  graphs.beam_matches(edges, expected, linkage=linkage, cap=cap, seed=seed, min_weight=1.5)
