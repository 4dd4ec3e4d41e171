"""Smart and random negatives in memory.

Each level's rule is `smart_negatives.ResolveLevel` itself, called per
anchor with its cluster's sample; the neighbour filter is
`neighbour_filter._choose` on answers looked up in the sorted edge keys; a
random negative is `random_negatives._requests`' rank, read from the ranked
ids. So the draws, fall-backs and counts are the Beam engine's by
construction.
"""

import numpy as np

from pipelines.examples import neighbour_filter, random_negatives, smart_negatives
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
    resolve = smart_negatives.ResolveLevel(level, config.seed, config.negative_draws)
    outputs = {}
    for kv in pending:
      sample = samples[level].get((level, kv[1].info.path[level]))
      triplets += split_outputs(resolve.process((kv, sample)), outputs, counts)
    candidates += outputs.get("candidates", [])
    pending = outputs.get("up", [])
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


def random_triplets(anchors: list, ranked_ids: list, seed: int, counts) -> list:
  """`random_negatives.RandomNegatives`: a uniform train item other than anchor and positive."""
  out = []
  n = len(ranked_ids)
  for kv in anchors:
    for rank, (anchor_id, positive) in split_outputs(
        random_negatives._requests(kv, n, seed), {}, counts):  # pylint: disable=protected-access
      out.append((anchor_id, positive, ranked_ids[rank], smart_negatives.RANDOM_LEVEL))
  return out
