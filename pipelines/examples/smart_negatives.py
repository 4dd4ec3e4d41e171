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
Graph neighbours are excluded at level 0 only, as the design states; at
l >= 1 a neighbour (even the positive itself, counted as
`negatives/equal_positive`) can be drawn.
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD, SkewJoin

RANDOM_LEVEL = -1


class Triplet(NamedTuple):
  anchor: str
  positive: str
  negative: str
  level: int  # the level the negative was drawn from; -1 for random


def _stat(name, n):
  return beam.pvalue.TaggedOutput("stats", (name, n))


def _up(kv):
  return beam.pvalue.TaggedOutput("up", kv)


class ResolveLevel(beam.DoFn):
  """((anchor id, Anchor), sample) -> Triplets at this level, or the anchor goes up."""

  def __init__(self, level: int, seed: int):
    self._level = level
    self._seed = seed

  def process(self, pair):
    kv, sample = pair
    anchor_id, anchor = kv
    n = len(anchor.positives)
    if self._level == 0:
      yield from self._level0(anchor_id, anchor, sample, n, kv)
    else:
      yield from self._upper(anchor_id, anchor, sample, n, kv)

  def _level0(self, anchor_id, anchor, sample, n, kv):
    pool = 0 if sample is None else sample.size - 1 - anchor.nbr0
    if pool <= 0:
      yield _stat("fallback/level_0_pool_empty", n)
      yield _up(kv)
      return
    excluded = set(anchor.res_nbrs)
    excluded.add(anchor_id)
    candidates = [m for m in sample.members if m not in excluded]
    if not candidates:
      yield _stat("fallback/level_0_reservoir_miss", n)
      yield _up(kv)
      return
    for positive, _ in anchor.positives:
      i = hashing.pick(len(candidates), self._seed, "negative", 0, anchor_id, positive)
      yield Triplet(anchor_id, positive, candidates[i], 0)

  def _upper(self, anchor_id, anchor, sample, n, kv):
    level = self._level
    if sample is None or sample.num_children < 2:
      yield _stat(f"fallback/level_{level}_pool_empty", n)
      yield _up(kv)
      return
    own = anchor.info.path[level - 1]
    siblings = [c for c in sample.children if c.id != own]
    total = sum(c.size for c in siblings)
    for positive, _ in anchor.positives:
      target = hashing.uniform(self._seed, "negative", level, anchor_id, positive, "child") * total
      child = siblings[-1]
      for c in siblings:
        target -= c.size
        if target < 0:
          child = c
          break
      i = hashing.pick(len(child.members), self._seed, "negative", level, anchor_id, positive)
      negative = child.members[i]
      if negative == positive:
        yield _stat("negatives/equal_positive", 1)
      yield Triplet(anchor_id, positive, negative, level)


class SmartNegativesResult(NamedTuple):
  triplets: beam.PCollection  # Triplet
  pending: beam.PCollection  # (anchor id, Anchor) whose pools were empty up to the top
  stats: beam.PCollection


@dataclasses.dataclass
class SmartNegatives(beam.PTransform):
  """Resolves anchors level by level, from `start_level` to the top.

  Input: (anchors, samples) where anchors are (id, Anchor) and samples maps
  each level >= start_level to ((level, cluster), MemberSample or
  ParentSample). Each level joins the still-unresolved anchors to their
  cluster's sample with a `SkewJoin` (a big cluster has many anchors).
  """
  start_level: int
  levels: int
  seed: int
  hot_threshold: int = DEFAULT_HOT_THRESHOLD

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    anchors, samples = pcolls
    pending, triplets, stats = anchors, [], []
    for level in range(self.start_level, self.levels):
      keyed = pending | f"KeyByL{level}" >> beam.Map(
          lambda kv, lv: ((lv, kv[1].info.path[lv]), kv), level)
      resolved = ((samples[level], keyed)
                  | f"JoinL{level}" >> SkewJoin(self.hot_threshold)
                  | f"ResolveL{level}" >> beam.ParDo(ResolveLevel(level, self.seed))
                  .with_outputs("up", "stats", main="triplets"))
      triplets.append(resolved.triplets)
      stats.append(resolved.stats)
      pending = resolved.up
    flat_triplets = tuple(triplets) | "FlattenTriplets" >> beam.Flatten()
    flat_stats = tuple(stats) | "FlattenStats" >> beam.Flatten()
    return SmartNegativesResult(flat_triplets, pending, flat_stats)
