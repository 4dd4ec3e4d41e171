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
`neighbour_filter.ExcludeNeighbours` keeps the first draw that is not a
neighbour, by a join with the edges; a slot whose every draw is a neighbour
falls back to a random negative, counted as
`fallback/level_<l>_draws_all_neighbours`.
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing
from pipelines.examples.items import ItemInfo
from pipelines.examples.neighbour_filter import Candidates, ExcludeNeighbours
from pipelines.examples.positives import Anchor
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD, SkewJoin

RANDOM_LEVEL = -1
DEFAULT_NEGATIVE_DRAWS = 8


class Triplet(NamedTuple):
  anchor: str
  positive: str
  negative: str
  level: int  # the level the negative was drawn from; -1 for random


def _stat(name, n):
  return beam.pvalue.TaggedOutput("stats", (name, n))


def _up(kv):
  return beam.pvalue.TaggedOutput("up", kv)


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


class ResolveLevel(beam.DoFn):
  """((anchor id, Anchor), sample) -> Triplets at this level, or the anchor goes up.

  The rules are the functions above, which the in-memory engine
  (`examples/local/negatives.py`) applies to its batches of hashes.
  """

  def __init__(self, level: int, seed: int, draws: int = DEFAULT_NEGATIVE_DRAWS):
    self._level = level
    self._seed = seed
    self._draws = draws

  def process(self, pair):
    kv, sample = pair
    anchor_id, anchor = kv
    n = len(anchor.positives)
    if self._level == 0:
      yield from self._level0(anchor_id, anchor, sample, n, kv)
    else:
      yield from self._upper(anchor_id, anchor, sample, n, kv)

  def _level0(self, anchor_id, anchor, sample, n, kv):
    if level0_pool_empty(anchor, sample):
      yield _stat("fallback/level_0_pool_empty", n)
      yield _up(kv)
      return
    where = {m: i for i, m in enumerate(sample.members)}
    excluded = {where[m] for m in (anchor_id, *anchor.res_nbrs) if m in where}
    if len(excluded) == len(sample.members):
      yield _stat("fallback/level_0_reservoir_miss", n)
      yield _up(kv)
      return
    for positive, rank in anchor.positives:
      # A graph positive inside the reservoir is in res_nbrs already; a cluster
      # positive (`cluster_positives.py`) is a member that must not be its own negative.
      own = where.get(positive)
      negative = reservoir_negative(sample.members, excluded if own is None else excluded | {own},
                                    hashing.uniform(self._seed, "negative", 0, anchor_id, positive))
      if negative is None:
        yield _stat("fallback/level_0_reservoir_miss", 1)
        yield _up((anchor_id, anchor._replace(positives=((positive, rank),))))
        continue
      yield Triplet(anchor_id, positive, negative, 0)

  def _upper(self, anchor_id, anchor, sample, n, kv):
    level = self._level
    if upper_pool_empty(sample):
      yield _stat(f"fallback/level_{level}_pool_empty", n)
      yield _up(kv)
      return
    siblings, total = sibling_children(anchor, sample, level)
    for positive, positive_rank in anchor.positives:
      draws = tuple(self._draw(siblings, total, anchor_id, positive, t)
                    for t in range(self._draws))
      yield beam.pvalue.TaggedOutput("candidates", tuple(Candidates(
          anchor_id, positive, level, draws, tuple(anchor.info), positive_rank)))

  def _draw(self, siblings, total, anchor_id, positive, t):
    """Draw t of a slot: `sibling_member` with the slot's two uniforms."""
    parts, again = (self._seed, "negative", self._level, anchor_id, positive), (t,) if t else ()
    return sibling_member(siblings, total, hashing.uniform(*parts, "child", *again),
                          hashing.uniform(*parts, *again))


class SmartNegativesResult(NamedTuple):
  triplets: beam.PCollection  # Triplet
  pending: beam.PCollection  # (anchor id, Anchor) whose pools were empty up to the top
  stats: beam.PCollection


@dataclasses.dataclass
class SmartNegatives(beam.PTransform):
  """Resolves anchors level by level, from `start_level` to the top.

  Input: (anchors, samples, edges) where anchors are (id, Anchor), samples
  maps each level >= start_level to ((level, cluster), MemberSample or
  ParentSample), and edges are the graph's edges. Each level joins the
  still-unresolved anchors to their cluster's sample with a `SkewJoin` (a
  big cluster has many anchors); the draws of levels >= 1 then pass
  `ExcludeNeighbours`.
  """
  start_level: int
  levels: int
  seed: int
  hot_threshold: int = DEFAULT_HOT_THRESHOLD
  negative_draws: int = DEFAULT_NEGATIVE_DRAWS

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    anchors, samples, edges = pcolls
    pending, triplets, stats, candidates, ups = anchors, [], [], [], []
    for level in range(self.start_level, self.levels):
      keyed = pending | f"KeyByL{level}" >> beam.Map(
          lambda kv, lv: ((lv, kv[1].info.path[lv]), kv), level)
      resolved = ((samples[level], keyed)
                  | f"JoinL{level}" >> SkewJoin(self.hot_threshold)
                  | f"ResolveL{level}" >> beam.ParDo(ResolveLevel(
                      level, self.seed, self.negative_draws))
                  .with_outputs("up", "stats", "candidates", main="triplets"))
      triplets.append(resolved.triplets)
      stats.append(resolved.stats)
      candidates.append(resolved.candidates)
      pending = resolved.up
    ups.append(pending)
    if self.levels > max(1, self.start_level):
      filtered = ((tuple(candidates) | "FlattenDraws" >> beam.Flatten(), edges)
                  | "ExcludeNeighbours" >> ExcludeNeighbours())
      triplets.append(filtered.chosen | "AsTriplets" >> beam.Map(lambda t: Triplet(*t)))
      stats.append(filtered.stats)
      ups.append(filtered.exhausted | "ExhaustedSlots" >> beam.Map(_as_pending))
    flat_triplets = tuple(triplets) | "FlattenTriplets" >> beam.Flatten()
    flat_stats = tuple(stats) | "FlattenStats" >> beam.Flatten()
    flat_pending = tuple(ups) | "FlattenPending" >> beam.Flatten()
    return SmartNegativesResult(flat_triplets, flat_pending, flat_stats)


def _as_pending(slot):
  """A slot whose every draw was a neighbour, as an anchor with that one positive."""
  slot = Candidates(*slot)
  return slot.anchor, Anchor(ItemInfo(*slot.anchor_info), ((slot.positive, slot.positive_rank),),
                             0, 0, ())
