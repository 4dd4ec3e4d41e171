"""Anchors and positives in memory: `positives.SampleAnchors`, `CapTriplets` and the random mix.

Edges arrive as `local_io.LocalEdges` (unique, src < dst). The per-edge rules
(train-train only, both endpoints train items with features, both
directions, smart anchors need a cluster path) are masks over the edge
arrays; the per-anchor bottom-k of `AdjacencyFn` is one sort of the directed
edges by (anchor, key, neighbour id), with the same seeded keys.
"""

import numpy as np

from pipelines import hashing, split
from pipelines.examples import triplets as triplets_lib
from pipelines.examples.positives import Anchor, slot_hash


def split_outputs(generator, outputs: dict, counts) -> list:
  """Runs a Beam per-element function: main outputs returned, tagged ones sorted out.

  `stats` outputs are added to `counts`; other tags are appended to
  `outputs[tag]`.
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


def sample_anchors(edges, infos, config, smart: bool, counts) -> list:
  """(anchor id, Anchor) for every anchor with a usable neighbour, as `SampleAnchors`.

  Args:
    edges: `local_io.LocalEdges` of the run.
    infos: `item_infos.LocalInfos` (with `in_res0` set when level 0 is sampled).
    config: the `ExamplesConfig`.
    smart: anchors need a cluster path.
    counts: the stage's counter (edge counts are added).

  Returns:
    The anchors, in no particular order.
  """
  ids = edges.ids
  test = np.fromiter((split.is_test(i, config.test_fraction) for i in ids), bool, len(ids))
  held = np.fromiter((split.is_validation(i, config.validation_fraction) for i in ids), bool,
                     len(ids))
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
  codes = {}
  l0 = np.array([-1 if p is None else codes.setdefault(p[0], len(codes)) for p in infos.paths],
                np.int64)
  same = (l0[rs] >= 0) & (l0[rs] == l0[rd])
  x, y = np.concatenate((rs, rd)), np.concatenate((rd, rs))
  w, same = np.concatenate((w, w)), np.concatenate((same, same))
  if smart:
    keep = l0[x] >= 0
    x, y, w, same = x[keep], y[keep], w[keep], same[keep]
  in_res0 = np.fromiter((i in infos.in_res0 for i in infos.ids), bool, len(infos.ids))
  res = same & in_res0[y]
  key = _positive_keys(infos.ids, x, y, w, config)
  by_name = np.empty(len(infos.ids), np.int64)
  by_name[np.argsort(np.array(infos.ids, dtype=object), kind="stable")] = np.arange(
      len(infos.ids))
  order = np.lexsort((by_name[y], key, x))
  x, y, same, res = x[order], y[order], same[order], res[order]
  starts = np.flatnonzero(np.concatenate(([True], x[1:] != x[:-1]))) if len(x) else []
  ends = np.append(starts[1:], len(x)).astype(np.int64) if len(x) else []
  k = config.positives_per_anchor
  anchors = []
  for a, b in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist()):
    info = infos.info(int(x[a]))
    ys = y[a:b]
    positives = tuple((infos.ids[r], r) for r in ys[:k].tolist())
    res_nbrs = tuple(infos.ids[r] for r in ys[res[a:b]][np.argsort(by_name[ys[res[a:b]]])]
                     .tolist())
    anchors.append((info.id, Anchor(info, positives, b - a, int(same[a:b].sum()), res_nbrs)))
  return anchors


def _positive_keys(ids: list, x, y, w, config) -> np.ndarray:
  """The `AdjacencyFn` key of each directed edge x -> y."""
  seed = config.seed
  xs, ys = [ids[i] for i in x.tolist()], [ids[i] for i in y.tolist()]
  if config.positive_sampling == "weighted":
    keys = [hashing.weighted_key(wt, seed, "positive", a, b)
            for wt, a, b in zip(w.tolist(), xs, ys)]
  else:
    keys = [hashing.uniform(seed, "positive", a, b) for a, b in zip(xs, ys)]
  return np.array(keys, np.float64)


def cap_slots(anchors: list, limit: int, seed: int) -> list:
  """`CapTriplets`: keeps the `limit` (anchor, positive) slots of smallest slot hash."""
  if sum(len(anchor.positives) for _, anchor in anchors) <= limit:
    return anchors
  hashed = [[slot_hash(seed, a, p) for p, _ in anchor.positives] for a, anchor in anchors]
  threshold = sorted(h for slots in hashed for h in slots)[limit - 1]
  kept = []
  for (a, anchor), slots in zip(anchors, hashed):
    positives = tuple(p for p, h in zip(anchor.positives, slots) if h <= threshold)
    if positives:
      kept.append((a, anchor._replace(positives=positives)))
  return kept


def mix_random(anchors: list, fraction: float, seed: int, counts):
  """`--random_fraction`: (anchors kept smart, anchors sent to a random negative)."""
  outputs = {}
  smart = []
  for kv in anchors:
    smart += split_outputs(triplets_lib._mix_random(kv, fraction, seed),  # pylint: disable=protected-access
                           outputs, counts)
  return smart, outputs.get("random", [])
