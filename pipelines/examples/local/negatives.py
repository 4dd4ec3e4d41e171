"""Smart and random negatives in memory, the seeded draws hashed in batches.

Each level applies `smart_negatives.ResolveLevel`'s rules, the same functions
(`level0_pool_empty`, `reservoir_negative`; `upper_pool_empty`,
`sibling_children`, `sibling_member`), to every anchor with its cluster's
sample (level 0: a pick in the reservoir minus excluded ids; above: per draw
a sibling child by size, then a member), with the
uniforms of all slots hashed at once by `hashing_vectorised`; the neighbour
filter is `neighbour_filter._choose` itself on answers looked up in the
sorted edge keys; a random negative is `random_negatives.draw_rank`'s rank,
computed for all slots at once. The equality tests
(`tests/pipelines/examples/test_local_engine.py`) hold the draws, fall-backs and
counts to the Beam engine's.
"""

import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples import neighbour_filter, smart_negatives
from pipelines.examples.local.anchors import split_outputs
from pipelines.examples.neighbour_filter import Candidates


class EdgeSet:
  """Membership of undirected pairs of ids in the edges (`local_io.LocalEdges`)."""

  def __init__(self, edges):
    self._index = {item_id: i for i, item_id in enumerate(edges.ids)}
    self._n = max(1, len(edges.ids))
    self._keys = np.sort(edges.src.astype(np.int64) * self._n + edges.dst)

  def contains(self, pairs: list) -> np.ndarray:
    """Whether each (a, b) pair of ids is an edge (either direction)."""
    a = np.fromiter((self._index.get(p[0], -1) for p in pairs), np.int64, len(pairs))
    b = np.fromiter((self._index.get(p[1], -1) for p in pairs), np.int64, len(pairs))
    known = (a >= 0) & (b >= 0)
    keys = np.minimum(a, b) * self._n + np.maximum(a, b)
    at = np.minimum(np.searchsorted(self._keys, keys), max(0, len(self._keys) - 1))
    found = self._keys[at] == keys if len(self._keys) else np.zeros(len(pairs), bool)
    return known & found


def smart_triplets(anchors: list, samples: dict, start: int, levels: int, config,
                   edge_set: EdgeSet, counts):
  """`smart_negatives.SmartNegatives` from level `start`.

  Args:
    anchors: (anchor id, Anchor) pairs.
    samples: {level: {(level, cluster): MemberSample or ParentSample}}.
    start: the first level tried.
    levels: number of levels of the tables.
    config: the `ExamplesConfig`.
    edge_set: the graph's edges (every edge read, as the Beam filter joins).
    counts: the stage's counter.

  Returns:
    (triplets (anchor, positive, negative, level), anchors left for a random negative).
  """
  triplets, candidates, pending = [], [], anchors
  for level in range(start, levels):
    if level == 0:
      pending = _level0(pending, samples[0], config.seed, triplets, counts)
      continue
    pending = _upper(pending, samples[level], level, config, candidates, counts)
  if levels > max(1, start) and candidates:
    probes = [(slot[0], draw) for slot in candidates for draw in slot[3]]
    neighbour = edge_set.contains(probes).tolist()
    outputs, at = {}, 0
    for slot in candidates:
      n = len(slot[3])
      answers = list(zip(range(n), neighbour[at:at + n]))
      at += n
      triplets += split_outputs(neighbour_filter._choose(Candidates(*slot), answers),  # pylint: disable=protected-access
                                outputs, counts)
    pending = pending + [smart_negatives._as_pending(s)  # pylint: disable=protected-access
                         for s in outputs.get("exhausted", [])]
  return [tuple(t) for t in triplets], pending


def slot_ids(anchors: list) -> tuple:
  """(anchor ids, positive ids) of every (anchor, positive) slot, as numpy bytes arrays.

  Args:
    anchors: (anchor id, Anchor) pairs.

  Returns:
    (anchor ids, positive ids), one entry per slot.
  """
  pairs = [(a, p) for a, anchor in anchors for p, _ in anchor.positives]
  return (hashing_vectorised.encoded([a for a, _ in pairs]),
          hashing_vectorised.encoded([p for _, p in pairs]))


def _level0(anchors: list, samples: dict, seed: int, triplets: list, counts) -> list:
  """`ResolveLevel(0)` for every anchor, its picks hashed in one batch.

  The rule is `smart_negatives.reservoir_negative`: the pool is the L0 reservoir minus
  the anchor, its reservoir neighbours and the positive, and the negative is
  `pool[pick(len(pool), seed, "negative", 0, anchor, positive)]`. The pool is
  not built: the pick is mapped onto the reservoir by skipping the excluded
  positions, as `random_negatives.draw_rank` skips excluded ranks.

  Returns:
    The anchors (or single slots) that go up a level.
  """
  a_ids, p_ids = slot_ids(anchors)
  u = hashing_vectorised.uniform(len(a_ids), seed, "negative", 0, a_ids, p_ids).tolist()
  positions, up, at = {}, [], 0
  for kv in anchors:
    anchor_id, anchor = kv
    n = len(anchor.positives)
    slot_u, at = u[at:at + n], at + n
    sample = samples.get((0, anchor.info.path[0]))
    if smart_negatives.level0_pool_empty(anchor, sample):
      counts["fallback/level_0_pool_empty"] += n
      up.append(kv)
      continue
    where = positions.get(anchor.info.path[0])
    if where is None:
      where = positions[anchor.info.path[0]] = {m: i for i, m in enumerate(sample.members)}
    excluded = {where[m] for m in (anchor_id, *anchor.res_nbrs) if m in where}
    if len(excluded) == len(sample.members):
      counts["fallback/level_0_reservoir_miss"] += n
      up.append(kv)
      continue
    for (positive, rank), value in zip(anchor.positives, slot_u):
      own = where.get(positive)
      negative = smart_negatives.reservoir_negative(
          sample.members, excluded if own is None else excluded | {own}, value)
      if negative is None:
        counts["fallback/level_0_reservoir_miss"] += 1
        up.append((anchor_id, anchor._replace(positives=((positive, rank),))))
        continue
      triplets.append((anchor_id, positive, negative, 0))
  return up


def _upper(anchors: list, samples: dict, level: int, config, candidates: list, counts) -> list:
  """`ResolveLevel(level)` for level >= 1, every draw's two uniforms hashed in one batch.

  The rule is `smart_negatives.sibling_member`'s: draw t picks a sibling
  child by size (`uniform(..., "child"[, t]) * total`, sizes subtracted in
  order) and a member of its sample (`pick(..., [t])`). Each slot's
  `Candidates` (as a plain tuple) is appended to `candidates`.

  Returns:
    The anchors that go up a level (pool empty).
  """
  seed, draws = config.seed, config.negative_draws
  usable, up = [], []
  for kv in anchors:
    sample = samples.get((level, kv[1].info.path[level]))
    if smart_negatives.upper_pool_empty(sample):
      counts[f"fallback/level_{level}_pool_empty"] += len(kv[1].positives)
      up.append(kv)
    else:
      usable.append((kv, sample))
  a_ids, p_ids = slot_ids([kv for kv, _ in usable])
  n = len(a_ids)
  child_u = [hashing_vectorised.uniform(n, seed, "negative", level, a_ids, p_ids, "child",
                                        *((t,) if t else ())).tolist() for t in range(draws)]
  member_u = [hashing_vectorised.uniform(n, seed, "negative", level, a_ids, p_ids,
                                         *((t,) if t else ())).tolist() for t in range(draws)]
  at = 0
  for (anchor_id, anchor), sample in usable:
    siblings, total = smart_negatives.sibling_children(anchor, sample, level)
    for positive, positive_rank in anchor.positives:
      drawn = [smart_negatives.sibling_member(siblings, total, child_u[t][at], member_u[t][at])
               for t in range(draws)]
      candidates.append((anchor_id, positive, level, tuple(drawn), tuple(anchor.info),
                         positive_rank))
      at += 1
  return up


def random_triplets(anchors: list, ranked_ids: list, seed: int, counts) -> list:
  """`random_negatives.RandomNegatives`: a uniform train item other than anchor and positive.

  `random_negatives.draw_rank` for every slot at once: a pick among the
  `n - |{anchor, positive}|` ranks left, then shifted past the excluded ranks
  in increasing order.

  Args:
    anchors: (anchor id, Anchor) pairs.
    ranked_ids: the train ids in rank order.
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    (anchor, positive, negative, RANDOM_LEVEL) per slot with a candidate.
  """
  n = len(ranked_ids)
  a_ids, p_ids = slot_ids(anchors)
  a_rank = np.fromiter((a.info.rank for _, a in anchors for _ in a.positives), np.int64,
                       len(a_ids))
  p_rank = np.fromiter((r for _, a in anchors for _, r in a.positives), np.int64, len(a_ids))
  low, high = np.minimum(a_rank, p_rank), np.maximum(a_rank, p_rank)
  distinct = low != high
  left = n - 1 - distinct
  ok = left > 0
  if (~ok).any():
    counts["skipped/no_random_candidate"] += int((~ok).sum())
  u = hashing_vectorised.uniform(len(a_ids), seed, "random", a_ids, p_ids)
  r = np.minimum(left - 1, (u * left).astype(np.int64))
  r += r >= low
  r += distinct & (r >= high)
  out = []
  for a, p, rank in zip(a_ids[ok].tolist(), p_ids[ok].tolist(), r[ok].tolist()):
    out.append((a.decode("utf-8"), p.decode("utf-8"), ranked_ids[rank],
                smart_negatives.RANDOM_LEVEL))
  return out
