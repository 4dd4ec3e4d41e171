"""Smart negatives (GCML): drawn from the anchor's sibling clusters.

For an anchor a at level l (DESIGN.md, "Smart negatives"), the pool is

* l = 0: the train members (with features) of a's L0 cluster, minus a and
  minus a's graph neighbours;
* l >= 1: the train members of a's level-l cluster minus those of a's
  level-(l-1) cluster, i.e. the members of its sibling children.

An empty pool falls back to level l+1, and above the top level to a random
negative (`random_negatives.py`); every fall-back is counted per triplet as
`fallback/level_<l>_pool_empty`.

Exactness. Emptiness is decided from exact counts, never from the bounded
samples: at level 0 the pool size is `size(L0 cluster) - 1 - nbr0` (nbr0 =
a's neighbours inside its L0 cluster, counted exactly in `positives.py`); at
level l >= 1 the pool is non-empty iff the parent has >= 2 non-empty children
(`reservoirs.ParentSample`). At l >= 1 a non-empty pool always yields a
negative. At level 0 the draw is from the cluster's reservoir minus a and
minus a's neighbours inside it; that set can be empty while the pool is not
only if a has at least reservoir_size - 1 neighbours inside an L0 cluster of
more than reservoir_size members (a hot anchor in a big L0 cluster). That
case is not a pool-empty fall-back: it goes up a level too, but is counted
apart as `fallback/level_0_reservoir_miss`.

Distribution. Level 0: uniform over the reservoir's pool members (a uniform
subset of the pool). Level l >= 1: a sibling child with probability
proportional to its size, then a uniform member of its reservoir: uniform
over the pool whenever the parent has at most max_children children.

Never a neighbour. At every level the negative is neither the positive nor a
graph neighbour of the anchor. Level 0 excludes them exactly while drawing
(`res_nbrs`: the anchor's neighbours inside its L0 reservoir; a cluster
positive, which is no neighbour, is excluded from its own slot's draw, and a
slot left with nothing goes up as a `fallback/level_0_reservoir_miss`). At l >= 1 each
slot makes `negative_draws` seeded draws (draw 0 is the draw described
above, draw t > 0 the same with t in the hash), and
`neighbour_filter_beam.ExcludeNeighbours` keeps the first draw that is not a
neighbour, by a join with the edges; a slot whose every draw is a neighbour
falls back to a random negative, counted as
`fallback/level_<l>_draws_all_neighbours`.
"""

from typing import NamedTuple

from pipelines.examples.items import ItemInfo
from pipelines.examples.neighbour_filter import Candidates
from pipelines.examples.positives import Anchor

RANDOM_LEVEL = -1
DEFAULT_NEGATIVE_DRAWS = 8


class Triplet(NamedTuple):
  anchor: str
  positive: str
  negative: str
  level: int  # the level the negative was drawn from; -1 for random


def level0_pool_empty(anchor, sample) -> bool:
  """Whether an anchor's level-0 pool is empty (from the cluster's size, not its sample).

  Args:
    anchor: the `positives.Anchor` (its `nbr0`: graph neighbours in its L0 cluster).
    sample: its L0 cluster's `MemberSample`, or None.

  Returns:
    True when the cluster has no member but the anchor and its neighbours.
  """
  return sample is None or sample.size - 1 - anchor.nbr0 <= 0


def upper_pool_empty(sample) -> bool:
  """Whether a level >= 1 pool is empty: the parent has fewer than 2 non-empty children.

  Args:
    sample: the anchor's level-l cluster's `ParentSample`, or None.

  Returns:
    True when there is no sibling child to draw from.
  """
  return sample is None or sample.num_children < 2


def reservoir_negative(members, skip, u: float) -> str | None:
  """The level-0 rule: a uniform member of the reservoir outside the excluded positions.

  The pool is `members` without the positions in `skip` (the anchor, its
  reservoir neighbours and the positive); the negative is the pool's member
  at `min(size - 1, int(u * size))`, i.e. `hashing.pick(size, ...)` when `u`
  is `hashing.uniform(seed, "negative", 0, anchor, positive)`.

  Args:
    members: the L0 cluster's reservoir, in its order.
    skip: the excluded positions in `members`.
    u: the slot's uniform number in (0, 1).

  Returns:
    The negative, or None when the pool is empty (a reservoir miss).
  """
  size = len(members) - len(skip)
  if not size:
    return None
  r = min(size - 1, int(u * size))
  for e in sorted(skip):
    if r >= e:
      r += 1
  return members[r]


def sibling_children(anchor, sample, level: int) -> tuple[list, int]:
  """The children of a level-l cluster other than the anchor's own, and their total size.

  Args:
    anchor: the `positives.Anchor`.
    sample: its level-l cluster's `ParentSample`.
    level: l >= 1.

  Returns:
    (the sibling children's samples, the sum of their sizes).
  """
  own = anchor.info.path[level - 1]
  siblings = [c for c in sample.children if c.id != own]
  return siblings, sum(c.size for c in siblings)


def sibling_member(siblings: list, total: int, child_u: float, member_u: float) -> str:
  """The level >= 1 rule for one draw: a sibling child by size, then a member of its sample.

  Args:
    siblings: the sibling children (`sibling_children`), in order.
    total: their total size.
    child_u: `uniform(seed, "negative", level, anchor, positive, "child"[, t])`.
    member_u: `uniform(seed, "negative", level, anchor, positive[, t])`.

  Returns:
    The drawn member.
  """
  target = child_u * total
  child = siblings[-1]
  for c in siblings:
    target -= c.size
    if target < 0:
      child = c
      break
  size = len(child.members)
  return child.members[min(size - 1, int(member_u * size))]


def _as_pending(slot):
  """A slot whose every draw was a neighbour, as an anchor with that one positive."""
  slot = Candidates(*slot)
  return slot.anchor, Anchor(ItemInfo(*slot.anchor_info), ((slot.positive, slot.positive_rank),),
                             0, 0, ())
