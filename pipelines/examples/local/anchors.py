"""Anchors and positives in memory: `positives_beam.SampleAnchors`, `CapTriplets`, the random mix.

Edges arrive as `local_io.LocalEdges` (unique, src < dst). The per-edge rules
(train-train only, both endpoints train items with features, both
directions, smart anchors need a cluster path) are masks over the edge
arrays; the per-anchor bottom-k of `AdjacencyFn` is one sort of the directed
edges by (anchor, key, neighbour id), with the same seeded keys. An anchor
with no more neighbours than `--positives_per_anchor` takes them all: its
edges are not hashed (`_positive_keys`), and the order of its slots is no part of the
output (every later draw is keyed by ids, and the records are sorted).
"""

import dataclasses

import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples.local import item_infos
from pipelines.split import _SCALE as SCALE


def split_outputs(generator, outputs: dict, counts) -> list:
  """Runs a Beam per-element function: main outputs returned, tagged ones sorted out.

  `stats` outputs are added to `counts`; other tags are appended to
  `outputs[tag]`.

  Args:
    generator: what the Beam function yields for one element.
    outputs: tag -> list, appended to.
    counts: a Counter the `stats` outputs are added to.

  Returns:
    The main outputs.
  """
  main = []
  for value in generator:
    tag = getattr(value, "tag", None)
    if tag is None:
      main.append(value)
    elif tag == "stats":
      counts[value.value[0]] += value.value[1]
    else:
      outputs.setdefault(tag, []).append(value.value)
  return main


def _count(counts, name: str, n) -> None:
  if n:
    counts[name] += int(n)


def sample_anchors(edges, infos, names: np.ndarray, config, smart: bool, counts, l0=None,
                   known_splits: dict | None = None) -> "AnchorSlots":
  """Every anchor with a usable neighbour and its positives, as `SampleAnchors`.

  Args:
    edges: `local_io.LocalEdges` of the run.
    infos: `item_infos.LocalInfos` (with `in_res0` set when level 0 is sampled).
    names: `infos.ids` as a numpy bytes array (`hashing_vectorised.encoded`).
    config: the `ExamplesConfig`.
    smart: anchors need a cluster path.
    counts: the stage's counter (edge counts are added).
    l0: each rank's L0 cluster number (-1: none; None: no rank has one).
    known_splits: `item_infos.split_hashes`'s id -> split hash dict, or None.

  Returns:
    The AnchorSlots.
  """
  ids = edges.ids
  hashes = item_infos.split_hashes(ids, known_splits)
  test = hashing_vectorised.below(hashes, config.test_fraction * SCALE)
  held = ~hashing_vectorised.below(hashes, (1.0 - config.validation_fraction) * SCALE)
  src, dst, weight = edges.src, edges.dst, edges.weight
  touching_test = test[src] | test[dst]
  touching_val = ~touching_test & (held[src] | held[dst])
  _count(counts, "edges/touching_test", touching_test.sum())
  _count(counts, "edges/touching_validation", touching_val.sum())
  train = ~(touching_test | touching_val)
  rank_of = np.fromiter((infos.rank.get(i, -1) for i in ids), np.int64, len(ids))
  rs, rd, w = rank_of[src[train]], rank_of[dst[train]], weight[train]
  _count(counts, "edges/endpoint_without_features",
         (rs < 0).sum() + ((rs >= 0) & (rd < 0)).sum())
  used = (rs >= 0) & (rd >= 0)
  _count(counts, "edges/used", used.sum())
  rs, rd, w = rs[used], rd[used], w[used]
  l0 = np.full(len(infos.ids), -1, np.int64) if l0 is None else l0
  same = (l0[rs] >= 0) & (l0[rs] == l0[rd])
  x, y = np.concatenate((rs, rd)), np.concatenate((rd, rs))
  w, same = np.concatenate((w, w)), np.concatenate((same, same))
  if smart:
    keep = l0[x] >= 0
    x, y, w, same = x[keep], y[keep], w[keep], same[keep]
  in_res0 = np.zeros(len(infos.ids), bool) if infos.in_res0 is None else infos.in_res0
  res = same & in_res0[y]
  by_name = infos.by_name
  key = _positive_keys(names, by_name, x, y, w, config)
  order = by_key_within(x, key, by_name[y])
  x, y, same, res = x[order], y[order], same[order], res[order]
  first = np.ones(len(x), bool)
  first[1:] = x[1:] != x[:-1]
  starts = np.flatnonzero(first)
  group = np.cumsum(first) - 1
  slot = np.arange(len(x)) - starts[group] < config.positives_per_anchor
  in_res = np.flatnonzero(res)
  in_res = in_res[np.argsort(x[in_res] * max(1, len(by_name)) + by_name[y[in_res]])]  # distinct
  return AnchorSlots(x[starts], np.diff(np.append(starts, len(x))),
                     np.add.reduceat(same.astype(np.int64), starts) if len(x) else np.zeros(0, np.int64),
                     x[slot], y[slot], x[in_res], y[in_res], rank_of)


def by_key_within(group: np.ndarray, key: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
  """`np.lexsort((tiebreak, key, group))` in two unstable sorts and a fix-up of ties.

  Each key's rank (`argsort(key)`) makes `group * n + rank` distinct, so one
  sort of it orders by (group, key); runs of one group and equal keys (equal
  as floats; NaNs equal) are then put in `tiebreak` order.

  Args:
    group: int64 values >= 0 (the anchors).
    key: float64 keys.
    tiebreak: int64 values, distinct within a group (the neighbours' id order).

  Returns:
    The order, as `np.lexsort((tiebreak, key, group))` gives it.
  """
  n = len(key)
  rank = np.empty(n, np.int64)
  rank[np.argsort(key)] = np.arange(n)
  order = np.argsort(group * max(1, n) + rank)
  k, g = key[order], group[order]
  tie = (g[1:] == g[:-1]) & ((k[1:] == k[:-1]) | (np.isnan(k[1:]) & np.isnan(k[:-1])))
  for start, stop in _runs(np.flatnonzero(tie)):
    run = order[start:stop]
    order[start:stop] = run[np.argsort(tiebreak[run], kind="stable")]
  return order


def _runs(tie: np.ndarray) -> list:
  """The [start, stop) spans covered by the tied adjacent pairs (i, i + 1) of `tie`."""
  if not len(tie):
    return []
  breaks = np.flatnonzero(np.diff(tie) != 1)
  starts = np.concatenate(([tie[0]], tie[breaks + 1]))
  stops = np.concatenate((tie[breaks], [tie[-1]])) + 2
  return list(zip(starts.tolist(), stops.tolist()))


@dataclasses.dataclass
class AnchorSlots:
  """The anchors and their (anchor, positive) slots as arrays of item ranks (`infos.ids`).

  Attributes:
    anchor: each anchor's rank, increasing.
    degree: its usable neighbours.
    nbr0: of which in its L0 cluster.
    slot_anchor: each slot's anchor (grouped by anchor, in `anchor` order).
    slot_positive: each slot's positive, in sampling order within an anchor.
    res_anchor: for each (anchor, neighbour in its L0 reservoir) pair, the anchor.
    res_neighbour: the neighbour (ordered by id within an anchor).
    rank_of_edge_id: the rank of each of the edges' ids (-1: not a train item with features).
  """
  anchor: np.ndarray
  degree: np.ndarray
  nbr0: np.ndarray
  slot_anchor: np.ndarray
  slot_positive: np.ndarray
  res_anchor: np.ndarray
  res_neighbour: np.ndarray
  rank_of_edge_id: np.ndarray


def _positive_keys(names: np.ndarray, by_name: np.ndarray, x, y, w, config) -> np.ndarray:
  """The sort key of each directed edge x -> y among its anchor's edges.

  Edges of an anchor with more than `positives_per_anchor` of them: the
  `AdjacencyFn` key, hashed in one batch. The others' anchors take every
  neighbour: the neighbour's position in id order stands in (distinct within
  an anchor, so the sort has no ties to break), and nothing is hashed.
  """
  key = by_name[y].astype(np.float64)
  drawn = np.flatnonzero(np.bincount(x)[x] > config.positives_per_anchor) if len(x) else x
  xs, ys, n = names[x[drawn]], names[y[drawn]], len(drawn)
  if config.positive_sampling == "weighted":
    key[drawn] = hashing_vectorised.weighted_key(w[drawn], n, config.seed, "positive", xs, ys)
  else:
    key[drawn] = hashing_vectorised.uniform(n, config.seed, "positive", xs, ys)
  return key


def cap_slots(sa: np.ndarray, sp: np.ndarray, names: np.ndarray, limit: int,
              seed: int) -> np.ndarray:
  """`CapTriplets`: the `limit` (anchor, positive) slots of smallest `slot_hash`.

  `slot_hash` is (hash, anchor, positive): slots are kept in (hash, ids) order.

  Args:
    sa, sp: the slots' anchor and positive ranks.
    names: ids by rank (numpy bytes, UTF-8).
    limit: the slots kept.
    seed: the run's seed.

  Returns:
    A mask of the kept slots.
  """
  if len(sa) <= limit:
    return np.ones(len(sa), bool)
  hashes = hashing_vectorised.hash64(len(sa), seed, "slot", names[sa], names[sp])
  bound = np.partition(hashes, limit - 1)[limit - 1]
  keep = hashes < bound
  tied = np.flatnonzero(hashes == bound)
  tied = sorted(tied.tolist(), key=lambda i: (names[sa[i]].decode("utf-8"),
                                              names[sp[i]].decode("utf-8")))
  keep[tied[:limit - int(keep.sum())]] = True
  return keep


def mix_random(sa: np.ndarray, sp: np.ndarray, names: np.ndarray, fraction: float, seed: int,
               counts) -> np.ndarray:
  """`--random_fraction` (`triplets._mix_random`): which slots take a random negative.

  A slot goes random when `uniform(seed, "mix_random", anchor, positive)` <
  `fraction`; the uniforms are hashed in one batch.

  Args:
    sa, sp: the slots' anchor and positive ranks.
    names: ids by rank (numpy bytes).
    fraction: `--random_fraction`.
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    A mask of the slots sent random.
  """
  mixed = hashing_vectorised.uniform(len(sa), seed, "mix_random", names[sa], names[sp]) < fraction
  if mixed.any():
    counts["triplets/mixed_random"] += int(mixed.sum())
  return mixed
