"""Anchors and positives in memory: `positives.SampleAnchors`, `CapTriplets` and the random mix.

Edges arrive as `local_io.LocalEdges` (unique, src < dst). The per-edge rules
(train-train only, both endpoints train items with features, both
directions, smart anchors need a cluster path) are masks over the edge
arrays; the per-anchor bottom-k of `AdjacencyFn` is one sort of the directed
edges by (anchor, key, neighbour id), with the same seeded keys.
"""

import numpy as np

from pipelines import hashing_vectorised
from pipelines.examples.positives import Anchor
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
  hashes = hashing_vectorised.blake2b64_strings(hashing_vectorised.encoded(ids))
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
  """The `AdjacencyFn` key of each directed edge x -> y, hashed in one batch."""
  names = hashing_vectorised.encoded(ids)
  xs, ys = names[x], names[y]
  if config.positive_sampling == "weighted":
    return hashing_vectorised.weighted_key(w, len(x), config.seed, "positive", xs, ys)
  return hashing_vectorised.uniform(len(x), config.seed, "positive", xs, ys)


def cap_slots(anchors: list, limit: int, seed: int) -> list:
  """`CapTriplets`: keeps the `limit` (anchor, positive) slots of smallest `slot_hash`.

  Args:
    anchors: (anchor id, Anchor) pairs.
    limit: the slots kept.
    seed: the run's seed.

  Returns:
    The anchors with only their kept slots.
  """
  if sum(len(anchor.positives) for _, anchor in anchors) <= limit:
    return anchors
  a_ids = hashing_vectorised.encoded([a for a, anchor in anchors for _ in anchor.positives])
  p_ids = hashing_vectorised.encoded([p for _, anchor in anchors for p, _ in anchor.positives])
  values = iter(hashing_vectorised.hash64(len(a_ids), seed, "slot", a_ids, p_ids).tolist())
  hashed = [[(next(values), a, p) for p, _ in anchor.positives] for a, anchor in anchors]
  threshold = sorted(h for slots in hashed for h in slots)[limit - 1]
  kept = []
  for (a, anchor), slots in zip(anchors, hashed):
    positives = tuple(p for p, h in zip(anchor.positives, slots) if h <= threshold)
    if positives:
      kept.append((a, anchor._replace(positives=positives)))
  return kept


def mix_random(anchors: list, fraction: float, seed: int, counts):
  """`--random_fraction` (`triplets._mix_random`): (anchors kept smart, anchors sent random).

  A slot goes random when `uniform(seed, "mix_random", anchor, positive)` <
  `fraction`; the uniforms are hashed in one batch.

  Args:
    anchors: (anchor id, Anchor) pairs.
    fraction: `--random_fraction`.
    seed: the run's seed.
    counts: a Counter, added to.

  Returns:
    (anchors kept smart, anchors sent random).
  """
  a_ids = hashing_vectorised.encoded([a for a, anchor in anchors for _ in anchor.positives])
  p_ids = hashing_vectorised.encoded([p for _, anchor in anchors for p, _ in anchor.positives])
  chosen_all = iter((hashing_vectorised.uniform(len(a_ids), seed, "mix_random", a_ids, p_ids)
                     < fraction).tolist())
  smart, mixed = [], []
  for anchor_id, anchor in anchors:
    chosen = [p for p in anchor.positives if next(chosen_all)]
    if chosen:
      counts["triplets/mixed_random"] += len(chosen)
      mixed.append((anchor_id, anchor._replace(positives=tuple(chosen))))
    if len(chosen) < len(anchor.positives):
      smart.append((anchor_id, anchor._replace(
          positives=tuple(p for p in anchor.positives if p not in chosen))))
  return smart, mixed
