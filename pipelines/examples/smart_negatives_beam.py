"""The Beam transforms of `smart_negatives`.

Kept apart so that the in-memory engines import `smart_negatives` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing
from pipelines.examples import smart_negatives
from pipelines.examples.neighbour_filter import Candidates
from pipelines.examples.neighbour_filter_beam import ExcludeNeighbours
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD
from pipelines.examples.skew_join_beam import SkewJoin


def _stat(name, n):
  return beam.pvalue.TaggedOutput("stats", (name, n))


def _up(kv):
  return beam.pvalue.TaggedOutput("up", kv)


class ResolveLevel(beam.DoFn):
  """((anchor id, Anchor), sample) -> Triplets at this level, or the anchor goes up.

  The rules are the functions above, which the in-memory engine
  (`examples/local/negatives.py`) applies to its batches of hashes.
  """

  def __init__(self, level: int, seed: int, draws: int = smart_negatives.DEFAULT_NEGATIVE_DRAWS):
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
    if smart_negatives.level0_pool_empty(anchor, sample):
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
      negative = smart_negatives.reservoir_negative(
          sample.members, excluded if own is None else excluded | {own},
          hashing.uniform(self._seed, "negative", 0, anchor_id, positive))
      if negative is None:
        yield _stat("fallback/level_0_reservoir_miss", 1)
        yield _up((anchor_id, anchor._replace(positives=((positive, rank),))))
        continue
      yield smart_negatives.Triplet(anchor_id, positive, negative, 0)

  def _upper(self, anchor_id, anchor, sample, n, kv):
    level = self._level
    if smart_negatives.upper_pool_empty(sample):
      yield _stat(f"fallback/level_{level}_pool_empty", n)
      yield _up(kv)
      return
    siblings, total = smart_negatives.sibling_children(anchor, sample, level)
    for positive, positive_rank in anchor.positives:
      draws = tuple(self._draw(siblings, total, anchor_id, positive, t)
                    for t in range(self._draws))
      yield beam.pvalue.TaggedOutput("candidates", tuple(Candidates(
          anchor_id, positive, level, draws, tuple(anchor.info), positive_rank)))

  def _draw(self, siblings, total, anchor_id, positive, t):
    """Draw t of a slot: `sibling_member` with the slot's two uniforms."""
    parts, again = (self._seed, "negative", self._level, anchor_id, positive), (t,) if t else ()
    return smart_negatives.sibling_member(siblings, total, hashing.uniform(*parts, "child", *again),
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
  negative_draws: int = smart_negatives.DEFAULT_NEGATIVE_DRAWS

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
      triplets.append(filtered.chosen
                      | "AsTriplets" >> beam.Map(lambda t: smart_negatives.Triplet(*t)))
      stats.append(filtered.stats)
      ups.append(filtered.exhausted | "ExhaustedSlots" >> beam.Map(smart_negatives._as_pending))
    flat_triplets = tuple(triplets) | "FlattenTriplets" >> beam.Flatten()
    flat_stats = tuple(stats) | "FlattenStats" >> beam.Flatten()
    flat_pending = tuple(ups) | "FlattenPending" >> beam.Flatten()
    return SmartNegativesResult(flat_triplets, flat_pending, flat_stats)
