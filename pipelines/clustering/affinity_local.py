"""Affinity clustering in memory: vectorised numpy, the same answer as the Beam engine.

For graphs that fit one machine. Items are numbered in string order of their
ids, so comparing numbers compares ids as Python does, and a node of any round
is known by the number of its representative item. Per round:

* best neighbour: `np.maximum.at` of the linkage weight per node, then among
  the edges that reach it, `np.minimum.at` of the neighbour's tie rank (the
  item's position in (tie_hash, id) order): the same choice as the Beam
  combiner's min over (-weight, hash, id);
* components: roots at the mutual pairs (smaller id), then pointer jumping
  `parent = parent[parent]` until nothing moves (O(log depth) vector passes);
* contraction: edges grouped by (cluster, cluster) with one sort of packed
  64-bit keys; `max` by `np.maximum.reduceat`, `sum`/`average` by exact
  summation (`io/pair_groups.py`), so the floats equal Beam's `ExactSumFn`.
"""

import numpy as np

from pipelines import hashing_vectorised
from pipelines.io.pair_groups import group_pairs

_NONE = np.iinfo(np.int64).max


def item_ranks(ids: list[str], seed: int) -> np.ndarray:
  """Tie rank of every item: its position in (tie_hash, id) order.

  Args:
    ids: the item ids, sorted.
    seed: the run's seed.

  Returns:
    An int64 rank per item.
  """
  # tie_hash(seed, x) of every id: BLAKE2b-64 of `seed:x`, hashed in batches
  messages = np.strings.add(f"{seed}:".encode("utf-8"), hashing_vectorised.encoded(ids))
  hashes = hashing_vectorised.blake2b64_strings(messages) if len(ids) else np.zeros(0, np.uint64)
  order = np.argsort(hashes, kind="stable")
  ranks = np.empty(len(ids), np.int64)
  ranks[order] = np.arange(len(ids))
  return ranks


def best_neighbours(k, a, b, value, size, node_rank, linkage, cap):
  """Best neighbour of each of k nodes (itself when it has none) and a has-one mask.

  Args:
    k: the number of nodes.
    a: each edge's first node.
    b: each edge's second node.
    value: each edge's combined weight.
    size: each node's items.
    node_rank: each node's tie rank.
    linkage: max, average or sum.
    cap: `--max_cluster_size` (0: none).

  Returns:
    (best neighbour per node, whether the node has one).
  """
  weight = value / (size[a] * size[b]) if linkage == "average" else value
  if cap:
    ok = size[a] + size[b] <= cap
    a, b, weight = a[ok], b[ok], weight[ok]
  top = np.full(k, -np.inf)
  np.maximum.at(top, a, weight)
  np.maximum.at(top, b, weight)
  rank = np.full(k, _NONE)
  at_a, at_b = weight == top[a], weight == top[b]
  np.minimum.at(rank, a[at_a], node_rank[b[at_a]])
  np.minimum.at(rank, b[at_b], node_rank[a[at_b]])
  has = rank != _NONE
  node_of_rank = np.zeros(int(node_rank.max()) + 1 if k else 0, np.int64)
  node_of_rank[node_rank] = np.arange(k)
  best = np.arange(k)
  best[has] = node_of_rank[rank[has]]
  return best, has


def components(best, has, rep, size, cap):
  """Cluster root of every node (pointer jumping), with the size cap applied.

  Args:
    best: each node's best neighbour (`best_neighbours`).
    has: whether it has one.
    rep: each node's representative item (index).
    size: each node's items.
    cap: `--max_cluster_size` (0: none).

  Returns:
    Each node's root.
  """
  idx = np.arange(len(best))
  parent = best.copy()
  mutual = has & (parent[parent] == idx)
  roots = mutual & (rep < rep[parent])
  parent[roots] = idx[roots]
  while True:
    jumped = parent[parent]
    if np.array_equal(jumped, parent):
      break
    parent = jumped
  if cap:
    total = np.bincount(parent, weights=size, minlength=len(best))
    split = has & ~mutual & (total[parent] > cap)
    parent[split] = idx[split]
  return parent


def affinity_round(a, b, value, size, rep, ranks, linkage, cap):
  """One affinity round on nodes 0..k-1.

  Args:
    a: each edge's first node.
    b: each edge's second node.
    value: each edge's combined weight.
    size: each node's items.
    rep: each node's representative item (index).
    ranks: each item's tie rank (`item_ranks`).
    linkage: max, average or sum.
    cap: `--max_cluster_size` (0: none).

  Returns:
    (cluster of each node, the contracted graph).
  """
  best, has = best_neighbours(len(size), a, b, value, size, ranks[rep], linkage, cap)
  root = components(best, has, rep, size, cap)
  roots, cluster = np.unique(root, return_inverse=True)
  new_size = np.bincount(cluster, weights=size, minlength=len(roots)).astype(np.int64)
  ca, cb = cluster[a], cluster[b]
  keep = ca != cb
  ca, cb = ca[keep], cb[keep]
  lo, hi, merged, _ = group_pairs(np.minimum(ca, cb), np.maximum(ca, cb), value[keep],
                                  len(roots), "max" if linkage == "max" else "sum")
  return cluster, (lo, hi, merged, new_size, rep[roots])


def cluster_rounds(ids: list[str], src, dst, weight, rounds: int, linkage: str = "max",
                   seed: int = 0, cap: int = 0):
  """Clusters items `ids` (sorted) linked by edges src-dst (indices into ids).

  Args:
    ids: the item ids, sorted.
    src: each edge's first item (index into ids).
    dst: each edge's second item.
    weight: each edge's weight.
    rounds: the number of rounds.
    linkage: max, average or sum.
    seed: the run's seed.
    cap: `--max_cluster_size` (0: none).

  Returns:
    (reps, edges_left, merged): reps[r][i] is the index of the representative
    item of item i's cluster after round r+1; edges_left[r] the edges after
    that round; merged[r] the nodes that joined another node's cluster in it
    (0: the round changed nothing).
  """
  n = len(ids)
  ranks = item_ranks(ids, seed)
  a, b, value = np.asarray(src, np.int64), np.asarray(dst, np.int64), np.asarray(weight)
  size, rep = np.ones(n, np.int64), np.arange(n)
  node_of_item = np.arange(n)
  reps, edges_left, merged = [], [], []
  for _ in range(rounds):
    nodes = len(size)
    cluster_of_node, (a, b, value, size, rep) = affinity_round(
        a, b, value, size, rep, ranks, linkage, cap)
    node_of_item = cluster_of_node[node_of_item]
    reps.append(rep[node_of_item])
    edges_left.append(len(a))
    merged.append(nodes - len(size))
  return reps, edges_left, merged


def cluster(ids: list[str], src, dst, weight, levels: int, linkage: str = "max",
            seed: int = 0, cap: int = 0):
  """`cluster_rounds` with one level per round from round 1.

  Args:
    ids: the item ids, sorted.
    src: each edge's first item (index into ids).
    dst: each edge's second item.
    weight: each edge's weight.
    levels: the number of levels.
    linkage: max, average or sum.
    seed: the run's seed.
    cap: `--max_cluster_size` (0: none).

  Returns:
    (reps, edges_left), as `cluster_rounds` gives them.
  """
  reps, edges_left, _ = cluster_rounds(ids, src, dst, weight, levels, linkage, seed, cap)
  return reps, edges_left
