"""Affinity clustering (DESIGN.md, "Affinity clustering"): the rules both engines share.

One round per level over an undirected weighted graph:

1. Best neighbour. Every node takes the incident edge of greatest linkage
   weight. Ties go to the neighbour with the smaller `tie_hash` (an unsigned
   64-bit BLAKE2b of `f"{seed}:{rep}"`, never Python's salted `hash()`), and a
   hash collision goes to the smaller id (Python string order). Edges under
   `--min_weight` are ignored: a node whose every edge is ignored has no best
   neighbour and stays a singleton.
2. Components. The best-neighbour links form a pseudo-forest whose every
   component holds exactly one mutual pair (a longer cycle would need equal
   weights and a strictly decreasing tie order around it). The pair's node
   with the smaller id is the component's root; every node's label is its
   root, found by pointer jumping.
3. Contraction. Each component becomes a node. Between two clusters the edge
   value is the linkage of the edges between them: `max`; `sum` (the correctly
   rounded exact sum, i.e. `math.fsum`, of the values being merged); or
   `average`, which carries the same exact sum and compares
   `sum / (|A|*|B|)`, where |A| is the number of original items in A.
4. Level l is round K+l (`--levels`, default 3), K = `--first_round` (default 1)
   or, with `--target_l0_size`, the round `choose_first_round` picks.

Before the rounds (pipelines/clustering/stage.py): edges touching a test item of the
cold-start split are dropped unless `--cluster_all_edges`, and `--similarity`
may replace the weights by ones derived from the graph (similarity_local.py).

Ids. Every cluster is named after a *representative* original item: at L0 the
root item of its component, above that the representative of its root
cluster. A cluster's id is `l{level}-{rep}` (`io/cluster_tables/writer.cluster_id`). Inside the
engines a node of any round is known by its representative, so the tie hash of a
cluster is the tie hash of its representative item.

`--max_cluster_size=C` (0: no cap), with |.| in original items:
  a. a link u-v can be a best-neighbour candidate only if |u| + |v| <= C
     (other edges still count for contraction);
  b. a component whose total size exceeds C is split: its mutual pair merges
     (at most C by rule a) and each other member stays a cluster on its own.
Both steps are local to an edge or to a component's total, so both engines
apply them identically at any scale; every cluster is at most C when C >= 2,
and C = 1 keeps every item a singleton.
"""

from pipelines import hashing

LINKAGES = ("max", "average", "sum")
SIMILARITIES = ("weight", "jaccard", "adamic_adar")
STAGE = "cluster"


def tie_hash(seed: int, rep: str) -> int:
  """The seeded tie-break hash of a node (by its representative item id).

  Args:
    seed: the run's seed.
    rep: the node's representative item id.

  Returns:
    BLAKE2b-64 of `seed:rep`.
  """
  return hashing.blake2b64(f"{seed}:{rep}".encode("utf-8"))


def linkage_weight(linkage: str, value: float, size_a: int, size_b: int) -> float:
  """The weight a node compares when it picks its best neighbour.

  Args:
    linkage: max, average or sum.
    value: the combined weight of the edges between the two nodes.
    size_a: the first node's items.
    size_b: the second node's items.

  Returns:
    `value`, divided by `size_a * size_b` for average linkage.
  """
  return value / (size_a * size_b) if linkage == "average" else value


def within_cap(cap: int, size_a: int, size_b: int) -> bool:
  """Whether two nodes may merge under `--max_cluster_size`.

  Args:
    cap: the largest cluster allowed (0: no cap).
    size_a: the first node's items.
    size_b: the second node's items.

  Returns:
    True when there is no cap or the merged node fits it.
  """
  return not cap or size_a + size_b <= cap


def node_bound(file_sizes: list[int]) -> int:
  """An upper bound on the number of distinct ids in edge files of these sizes.

  A text edge line takes at least 4 bytes (`a,b` and a newline) and a
  TFRecord edge more, and a line names at most 2 new ids.

  Args:
    file_sizes: the edge files' sizes in bytes (content sizes for compressed files).

  Returns:
    The bound (at least 2).
  """
  return max(2, sum(size // 2 + 1 for size in file_sizes))


def jump_passes(nodes: int) -> int:
  """Pointer-jumping passes that resolve any pseudo-forest on `nodes` nodes.

  A node at depth d (distance to its root) is resolved after
  floor(log2(d)) + 1 passes, and d <= nodes - 1.

  Args:
    nodes: the number of nodes.

  Returns:
    The passes (at least 1).
  """
  return max(1, (max(2, nodes) - 1).bit_length())


def round_jump_passes(first_round_nodes: int, levels: int, cap: int = 0) -> list[int]:
  """Passes per round.

  Without a cap every node with an edge has a best neighbour, so it joins a
  component of 2 or more and each round at least halves the nodes with edges.
  With a cap a node can keep its edges unmerged, so the bound stays.

  Args:
    first_round_nodes: a bound on the first round's nodes (`node_bound`).
    levels: the number of rounds.
    cap: `--max_cluster_size` (0: none).

  Returns:
    Pointer-jumping passes per round.
  """
  return [jump_passes(first_round_nodes if cap else max(2, first_round_nodes >> r))
          for r in range(levels)]


COLLAPSE_SHARE = 0.5


def choose_first_round(items: int, merged: list, first_round: int = 1,
                       target_l0_size: int = 0) -> int:
  """The round that becomes L0 (1-based).

  Args:
    items: items in the tables (every item of a clustered edge).
    merged: per round built, the nodes that joined another node's cluster
      (so the round's clusters are `items - sum(merged[:round])`).
    first_round: `--first_round`; with a target, the first round considered.
    target_l0_size: `--target_l0_size` (0: none).

  Returns:
    `first_round` without a target. With one: the first round r >= first_round
    whose mean cluster size items / clusters reaches the target; if none does
    among the rounds searched (all of `merged`), the round after which the
    clusters stop changing (at least `first_round`).
  """
  if not target_l0_size or not items:
    return first_round
  clusters, last_change = items, first_round
  for r, m in enumerate(merged, 1):
    clusters -= m
    if r >= first_round and items >= target_l0_size * clusters:
      return r
    if m:
      last_change = max(last_change, r)
  return last_change
