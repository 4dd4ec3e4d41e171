"""Smart and random negatives in memory: every slot at once, as arrays of item ranks.

A slot is an (anchor, positive) pair of ranks (`anchors.AnchorSlots`). Each
level applies `smart_negatives_beam.ResolveLevel`'s rules to all its slots with
numpy, the seeded uniforms hashed in batches by `hashing_vectorised`, on the
cluster samples laid out as arrays (`sample_arrays`):

* level 0 (`reservoir_negative`): the pool is empty when
  `size - 1 - nbr0 <= 0`; a reservoir whose every member is excluded (the
  anchor and its neighbours inside it; a positive inside it is one of those
  neighbours) is a reservoir miss; else the pick `r` among the members left is
  mapped past the excluded positions e_0 < e_1 < ... as
  `r + #{j : e_j - j <= r}`, which is the loop's result;
* level l >= 1 (`sibling_member`): draw t's child is the first sibling whose
  running size total exceeds `u * total` (a comparison of integers with the
  float, exactly the loop's subtractions), found with one `searchsorted`
  over the parents' cumulative child sizes, then a member of its sample; the
  first draw that is no neighbour of the anchor is kept (`neighbour_filter._choose`),
  neighbours looked up in the sorted edge keys (draw t is hashed only for the
  slots whose earlier draws were all neighbours: the kept draw and the counts
  depend on nothing else);
* random (`random_negatives.draw_rank`): a pick among the ranks left, shifted
  past the excluded ranks.

The equality tests (`tests/pipelines/examples/test_local_engine.py`) hold the
draws, fall-backs and counts to the Beam engine's.
"""

import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples import smart_negatives
from pipelines.examples.local.sample_arrays import LevelArrays


class EdgeSet:
  """Membership of undirected pairs of item ranks in the edges (`local_io.LocalEdges`)."""

  def __init__(self, edges, rank_of_edge_id: np.ndarray, n: int):
    rs, rd = rank_of_edge_id[edges.src], rank_of_edge_id[edges.dst]
    both = (rs >= 0) & (rd >= 0)
    rs, rd = rs[both], rd[both]
    self._n = max(1, n)
    self._keys = np.sort(np.minimum(rs, rd) * self._n + np.maximum(rs, rd))

  def contains(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each (a, b) pair of ranks is an edge (either direction)."""
    keys = np.minimum(a, b) * self._n + np.maximum(a, b)
    if not len(self._keys):
      return np.zeros(keys.shape, bool)
    at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
    return self._keys[at] == keys


def _add(counts, name: str, n) -> None:
  if n:
    counts[name] += int(n)


def level0(sa, sp, nbr0, excluded, l0: LevelArrays, names, seed, counts) -> tuple:
  """`ResolveLevel(0)` for every slot.

  Args:
    sa, sp: the slots' anchor and positive ranks.
    nbr0: each slot's anchor's neighbours in its L0 cluster.
    excluded: (keys, starts) of the anchors' excluded reservoir positions
      (`anchors.AnchorSlots.excluded`): key = anchor rank * width + e_j - j.
    l0: the L0 samples as arrays.
    names: ids by rank (numpy bytes).
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    ((anchor, positive, negative) of the drawn slots, mask of the slots that go up a level).
  """
  keys, width, excluded_count = excluded
  cluster = l0.cluster_of[sa]
  has = cluster >= 0
  sample = np.where(has, cluster, 0)
  empty = ~has | (l0.size[sample] - 1 - nbr0 <= 0)
  _add(counts, "fallback/level_0_pool_empty", empty.sum())
  left = l0.sample_length[sample] - excluded_count[sa]
  miss = ~empty & (left == 0)
  _add(counts, "fallback/level_0_reservoir_miss", miss.sum())
  go = ~empty & ~miss
  a, p, left, sample = sa[go], sp[go], left[go], sample[go]
  u = hashing_vectorised.uniform(len(a), seed, "negative", 0, names[a], names[p])
  r = np.minimum(left - 1, (u * left).astype(np.int64))
  base = a * width
  r += (np.searchsorted(keys, base + r, side="right") - np.searchsorted(keys, base))
  return (a, p, l0.members[l0.sample_start[sample] + r]), ~go


def upper(sa, sp, level: int, arrays: LevelArrays, below: LevelArrays, names, config,
          edge_set: EdgeSet, counts) -> tuple:
  """`ResolveLevel(level)` (level >= 1) and `ExcludeNeighbours` for every slot.

  Args:
    sa, sp: the slots' anchor and positive ranks.
    level: the level.
    arrays: the level's parent samples as arrays.
    below: the level below (the anchor's own child is its cluster there).
    names: ids by rank (numpy bytes).
    config: the `ExamplesConfig` (seed, negative_draws).
    edge_set: the graph's edges.
    counts: a Counter, added to.

  Returns:
    ((anchor, positive, negative) of the drawn slots, mask of the slots whose pool is
    empty (they go up), mask of the slots whose every draw was a neighbour).
  """
  seed, draws = config.seed, config.negative_draws
  parent = arrays.cluster_of[sa]
  has = parent >= 0
  safe = np.where(has, parent, 0)
  empty = ~has | (arrays.num_children[safe] < 2)
  _add(counts, f"fallback/level_{level}_pool_empty", empty.sum())
  go = np.flatnonzero(~empty)
  a, p, parent = sa[go], sp[go], parent[go]
  first, count = arrays.child_start[parent], arrays.child_count[parent]
  own = arrays.child_index(parent, below.cluster_of[a])
  own_size = np.where(own >= 0, arrays.child_size[np.maximum(own, 0)], 0)
  before_own = np.where(own >= 0, arrays.child_cum[np.maximum(own, 0)] - own_size, 0)
  total = arrays.child_cum[first + count - 1] - own_size
  last = np.where(own == first + count - 1, first + count - 2, first + count - 1)
  chosen = np.full(len(a), -1, np.int64)
  negative = np.zeros(len(a), np.int64)
  active = np.arange(len(a))
  for t in range(draws):  # draw t only for the slots whose draws so far were all neighbours
    extra = (t,) if t else ()
    ia, ip, at = names[a[active]], names[p[active]], active
    child_u = hashing_vectorised.uniform(len(at), seed, "negative", level, ia, ip, "child",
                                         *extra)
    member_u = hashing_vectorised.uniform(len(at), seed, "negative", level, ia, ip, *extra)
    target = np.floor(child_u * total[at]).astype(np.int64)
    target += np.where(target >= before_own[at], own_size[at], 0)
    child = np.searchsorted(arrays.child_keys, parent[at] * arrays.key_width + target,
                            side="right")
    child = np.where(child < first[at] + count[at], child, last[at])
    length = arrays.child_sample_length[child]
    pick = np.minimum(length - 1, (member_u * length).astype(np.int64))
    drawn = arrays.members[arrays.child_sample_start[child] + pick]
    neighbour = edge_set.contains(a[at], drawn)
    chosen[at[~neighbour]] = t
    negative[at[~neighbour]] = drawn[~neighbour]
    active = at[neighbour]
    if not len(active):
      break
  exhausted = chosen < 0
  _add(counts, "negatives/neighbour_draws_skipped",
       chosen[~exhausted].sum() + draws * exhausted.sum())
  _add(counts, f"fallback/level_{level}_draws_all_neighbours", exhausted.sum())
  kept = ~exhausted
  negative = negative[kept]
  all_neighbours = np.zeros(len(sa), bool)
  all_neighbours[go[exhausted]] = True
  return (a[kept], p[kept], negative), empty, all_neighbours


def random_triplets(a_rank: np.ndarray, p_rank: np.ndarray, names: np.ndarray, seed: int,
                    counts) -> tuple:
  """`random_negatives.RandomNegatives`: a uniform train item other than anchor and positive.

  `random_negatives.draw_rank` for every slot at once: a pick among the
  `n - |{anchor, positive}|` ranks left, then shifted past the excluded ranks
  in increasing order.

  Args:
    a_rank: each slot's anchor rank.
    p_rank: each slot's positive rank.
    names: the train ids in rank order, as a numpy bytes array (`hashing_vectorised.encoded`).
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    (anchor, positive, negative, level) int64 arrays (ranks; level RANDOM_LEVEL), one entry
    per slot with a candidate.
  """
  n = len(names)
  low, high = np.minimum(a_rank, p_rank), np.maximum(a_rank, p_rank)
  distinct = low != high
  left = n - 1 - distinct
  ok = left > 0
  if (~ok).any():
    counts["skipped/no_random_candidate"] += int((~ok).sum())
  u = hashing_vectorised.uniform(len(a_rank), seed, "random", names[a_rank], names[p_rank])
  r = np.minimum(left - 1, (u * left).astype(np.int64))
  r += r >= low
  r += distinct & (r >= high)
  return (a_rank[ok], p_rank[ok], r[ok],
          np.full(int(ok.sum()), smart_negatives.RANDOM_LEVEL, np.int64))
