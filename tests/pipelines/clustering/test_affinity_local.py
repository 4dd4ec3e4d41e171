"""`pipelines/clustering/affinity_local.py`: properties of the in-memory engine on random graphs,
checked against scipy."""


import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from pipelines.clustering import affinity_local
from tests.pipelines.clustering import graphs


def _arrays(edges):
  ids = sorted({x for a, b, _ in edges for x in (a, b)})
  index = {x: i for i, x in enumerate(ids)}
  src = np.array([index[a] for a, _, _ in edges])
  dst = np.array([index[b] for _, b, _ in edges])
  return ids, src, dst, np.array([w for _, _, w in edges])


def _max_spanning_forest(n, src, dst, weight):
  forest = minimum_spanning_tree(coo_matrix((-weight, (src, dst)), shape=(n, n)).tocsr())
  rows, cols = forest.nonzero()
  return set(zip(np.minimum(rows, cols).tolist(), np.maximum(rows, cols).tolist()))


@pytest.mark.parametrize("seed", range(6))
def test_best_neighbour_edges_are_in_the_maximum_spanning_forest(seed):
  ids, src, dst, weight = _arrays(graphs.random_graph(seed, 400, 900, distinct=True))
  n = len(ids)
  best, has = affinity_local.best_neighbours(
      n, src, dst, weight, np.ones(n, np.int64), affinity_local.item_ranks(ids, seed), "max", 0)
  forest = _max_spanning_forest(n, src, dst, weight)
  chosen = {(min(v, int(best[v])), max(v, int(best[v]))) for v in np.flatnonzero(has).tolist()}
  assert chosen and chosen <= forest


def _partition(labels):
  groups = {}
  for i, label in enumerate(np.asarray(labels).tolist()):
    groups.setdefault(label, set()).add(i)
  return sorted(map(sorted, groups.values()))


@pytest.mark.parametrize("seed,distinct", [(0, True), (1, True), (2, False), (3, False)])
def test_enough_rounds_give_the_connected_components(seed, distinct):
  ids, src, dst, weight = _arrays(graphs.random_graph(seed, 500, 420, distinct))
  n = len(ids)
  reps, edges_left = affinity_local.cluster(ids, src, dst, weight, levels=12, seed=seed)
  _, components = connected_components(coo_matrix((weight, (src, dst)), shape=(n, n)),
                                       directed=False)
  assert edges_left[-1] == 0
  assert _partition(reps[-1]) == _partition(components)


@pytest.mark.parametrize("linkage", ["max", "sum", "average"])
def test_each_level_refines_the_next(linkage):
  ids, src, dst, weight = _arrays(graphs.random_graph(4, 800, 2500, distinct=False))
  reps, _ = affinity_local.cluster(ids, src, dst, weight, levels=5, linkage=linkage, seed=9)
  for lower, upper in zip(reps, reps[1:]):
    parent = {}
    for a, b in zip(lower.tolist(), upper.tolist()):
      assert parent.setdefault(a, b) == b
    assert len(set(upper.tolist())) <= len(set(lower.tolist()))
  for level in reps:  # a cluster's representative is one of its members
    assert all(level[r] == r for r in set(level.tolist()))


def test_max_linkage_levels_are_connected_in_the_spanning_forest():
  ids, src, dst, weight = _arrays(graphs.random_graph(5, 600, 1500, distinct=True))
  n = len(ids)
  forest = np.array(sorted(_max_spanning_forest(n, src, dst, weight)))
  reps, _ = affinity_local.cluster(ids, src, dst, weight, levels=3, seed=1)
  for level in reps:
    inside = level[forest[:, 0]] == level[forest[:, 1]]
    a, b = forest[inside, 0], forest[inside, 1]
    count, _ = connected_components(coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n)),
                                    directed=False)
    assert count == len(set(level.tolist()))


def test_long_chain_local_100k():
  edges, names = graphs.chain(100_000)
  ids, src, dst, weight = _arrays(edges)
  # A chain is the worst case for round counts; its speed is `gcml bench cluster`'s figure.
  reps, edges_left = affinity_local.cluster(ids, src, dst, weight, levels=3)
  assert set(reps[0].tolist()) == {ids.index(names[-2])}
  assert edges_left == [0, 0, 0]
