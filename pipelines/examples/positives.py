"""Anchors and their positives, with bounded work for hot items.

Edges (train-train only, see `pipelines/split.py`) are annotated with the
`ItemInfo` of both endpoints by two `SkewJoin`s (hot items are fanned out).
Each edge then feeds both directions x -> y where x may be an anchor (a train
item with features, and for smart triplets a cluster path) and y has
features. Per anchor, one combiner (`AdjacencyFn`, lifted before the
shuffle, so a hot item's adjacency list is never collected) keeps:

* the positives: min(positives_per_anchor, degree) distinct neighbours, a
  bottom-k by Efraimidis-Spirakis keys `-log(u)/w` (weighted: probability
  proportional to the edge weight, without replacement) or by `u`
  (uniform), u from a seeded hash of (anchor, neighbour);
* the degree, and `nbr0`: the number of neighbours in the anchor's own L0
  cluster (exact; level 0 needs it to know whether its pool is empty);
* `res_nbrs`: the neighbours that sit in the anchor's L0 reservoir (at most
  `reservoir_size` ids), which level 0 excludes when it draws.

`CapTriplets` then keeps exactly `--num_triplets` (anchor, positive) slots,
those with the smallest seeded hash, without a global sort (see below).
"""

from typing import NamedTuple

from pipelines import hashing

CAP_BUCKET_SHIFT = 48  # 65536 hash buckets for the exact cap


class Neighbour(NamedTuple):
  """One direction of an edge, as the anchor's combiner sees it."""
  anchor: object  # ItemInfo of the anchor (a plain tuple in the pipeline)
  id: str
  rank: int
  weight: float
  same_l0: bool
  in_anchor_res0: bool


class Anchor(NamedTuple):
  info: object  # ItemInfo
  positives: tuple  # ((id, rank), ...) in sampling order
  degree: int  # neighbours that are train items with features
  nbr0: int  # of which in the anchor's L0 cluster
  res_nbrs: tuple  # sorted ids of neighbours inside the anchor's L0 reservoir


def slot_hash(seed: int, anchor: str, positive: str) -> tuple:
  """
  Args:
    seed: the run's seed.
    anchor: the anchor's id.
    positive: the positive's id.

  Returns:
    (hash, anchor, positive): the order `CapTriplets` keeps slots in.
  """
  return (hashing.hash64(seed, "slot", anchor, positive), anchor, positive)


def _keep(kv, threshold, seed):
  anchor_id, anchor = kv
  if threshold is None:
    return [kv]
  kept = tuple(p for p in anchor.positives if slot_hash(seed, anchor_id, p[0]) <= threshold)
  return [(anchor_id, anchor._replace(positives=kept))] if kept else []
