"""The Beam transforms of `positives`.

Kept apart so that the in-memory engines import `positives` without Beam
(`pipelines/beam_parts.py`).
"""

import bisect
import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing, split
from pipelines.examples import positives as positives_lib
from pipelines.examples.items import ItemInfo
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD
from pipelines.examples.skew_join_beam import SkewJoin


class AdjacencyFn(beam.CombineFn):
  """Neighbour -> Anchor: bounded positive sample plus exact counts."""

  def __init__(self, positives: int, weighted: bool, seed: int):
    self._k, self._weighted, self._seed = positives, weighted, seed

  def create_accumulator(self):
    return [None, [], 0, 0, set()]

  def add_input(self, acc, nb):
    """`nb` is a `Neighbour` or a plain tuple in the same field order."""
    anchor, nb_id, nb_rank, weight, same_l0, in_anchor_res0 = nb
    a = anchor[0]
    if self._weighted:
      key = hashing.weighted_key(weight, self._seed, "positive", a, nb_id)
    else:
      key = hashing.uniform(self._seed, "positive", a, nb_id)
    if acc[0] is None:
      acc[0] = tuple(anchor)
    top = acc[1]
    entry = (key, nb_id, nb_rank)
    if len(top) < self._k or entry < top[-1]:
      bisect.insort(top, entry)
      del top[self._k:]
    acc[2] += 1
    acc[3] += int(same_l0)
    if in_anchor_res0:
      acc[4].add(nb_id)
    return acc

  def merge_accumulators(self, accs):
    out = self.create_accumulator()
    for info, top, degree, nbr0, res in accs:
      out[0] = out[0] if out[0] is not None else info
      out[1].extend(top)
      out[2] += degree
      out[3] += nbr0
      out[4] |= res
    out[1] = sorted(out[1])[:self._k]
    return out

  def extract_output(self, acc):
    return positives_lib.Anchor(ItemInfo(*acc[0]), tuple((i, r) for _, i, r in acc[1]), acc[2],
                                acc[3], tuple(sorted(acc[4])))


def _directions(pair, smart: bool):
  # Records crossing a shuffle are plain tuples: Beam pickles NamedTuples,
  # which costs about 6x the time and 2.5x the bytes of a plain tuple.
  (edge, src), dst = pair
  if dst is None:
    yield beam.pvalue.TaggedOutput("stats", ("edges/endpoint_without_features", 1))
    return
  yield beam.pvalue.TaggedOutput("stats", ("edges/used", 1))
  src, dst = ItemInfo(*src), ItemInfo(*dst)
  same = src.path is not None and dst.path is not None and src.path[0] == dst.path[0]
  for x, y in ((src, dst), (dst, src)):
    if smart and x.path is None:
      continue
    yield x.id, (tuple(x), y.id, y.rank, edge[2], same, same and y.in_res0)


def _train_edge(edge, test_fraction, validation_fraction):
  if split.is_test(edge.src, test_fraction) or split.is_test(edge.dst, test_fraction):
    return [beam.pvalue.TaggedOutput("stats", ("edges/touching_test", 1))]
  if (split.is_validation(edge.src, validation_fraction) or
      split.is_validation(edge.dst, validation_fraction)):
    return [beam.pvalue.TaggedOutput("stats", ("edges/touching_validation", 1))]
  return [(edge.src, (edge.src, edge.dst, edge.weight))]


def _with_src(pair):
  edge, src = pair
  if src is None:
    return [beam.pvalue.TaggedOutput("stats", ("edges/endpoint_without_features", 1))]
  return [(edge[1], (edge, src))]


class AnchorsResult(NamedTuple):
  anchors: beam.PCollection  # (anchor id, Anchor)
  stats: beam.PCollection


@dataclasses.dataclass
class SampleAnchors(beam.PTransform):
  """(ItemInfo, Edge) -> Anchor per anchor with at least one usable neighbour.

  Attributes:
    positives_per_anchor: positives kept per anchor (fewer if the degree is).
    weighted: sample positives by edge weight (else uniformly).
    seed: the run's seed.
    smart: anchors need a cluster path (smart triplets).
    test_fraction: the cold-start split.
    validation_fraction: the items held out for model selection.
    hot_threshold: see `SkewJoin`.
  """
  positives_per_anchor: int
  weighted: bool
  seed: int
  smart: bool
  test_fraction: float = split.TEST_FRACTION
  hot_threshold: int = DEFAULT_HOT_THRESHOLD
  validation_fraction: float = split.VALIDATION_FRACTION

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    infos, edges = pcolls
    by_id = infos | "KeyInfo" >> beam.Map(lambda i: (i.id, tuple(i)))
    train = edges | "TrainEdges" >> beam.FlatMap(
        _train_edge, self.test_fraction, self.validation_fraction).with_outputs(
            "stats", main="edges")
    src = ((by_id, train.edges) | "JoinSrc" >> SkewJoin(self.hot_threshold)
           | "KeyDst" >> beam.FlatMap(_with_src).with_outputs("stats", main="edges"))
    both = ((by_id, src.edges) | "JoinDst" >> SkewJoin(self.hot_threshold)
            | "Directions" >> beam.FlatMap(_directions, self.smart).with_outputs(
                "stats", main="neighbours"))
    anchors = both.neighbours | "Adjacency" >> beam.CombinePerKey(
        AdjacencyFn(self.positives_per_anchor, self.weighted, self.seed))
    stats = ((train.stats, src.stats, both.stats) | "FlattenStats" >> beam.Flatten())
    return AnchorsResult(anchors, stats)


def _slots(kv, seed):
  anchor_id, anchor = kv
  for positive, _ in anchor.positives:
    yield positives_lib.slot_hash(seed, anchor_id, positive)


def _cut(bucket_counts, limit):
  """(bucket, k): keep all slots below `bucket` and the k smallest in it; None: keep all."""
  if sum(count for _, count in bucket_counts) <= limit:
    return None
  below = 0
  for bucket, count in sorted(bucket_counts):
    if below + count >= limit:
      return (bucket, limit - below)
    below += count
  raise AssertionError("unreachable")


def _threshold(in_bucket, cut):
  return None if cut is None else sorted(in_bucket)[cut[1] - 1]


@dataclasses.dataclass
class CapTriplets(beam.PTransform):
  """Keeps exactly min(total, limit) (anchor, positive) slots: the smallest hashes.

  Slots are counted per hash bucket (top 16 bits, a combiner); the bucket
  where the running count crosses `limit` is the only one whose slots are
  collected (about total / 65536 of them) to find the exact cut-off.
  """
  limit: int
  seed: int

  def __post_init__(self):
    super().__init__()

  def expand(self, anchors):
    seed, limit = self.seed, self.limit
    slots = anchors | "Slots" >> beam.FlatMap(_slots, seed)
    cut = (slots
           | "ToBucket" >> beam.Map(lambda s: (s[0] >> positives_lib.CAP_BUCKET_SHIFT, 1))
           | "CountPerBucket" >> beam.CombinePerKey(sum)
           | "Buckets" >> beam.combiners.ToList()
           | "Cut" >> beam.Map(_cut, limit))
    cut_view = beam.pvalue.AsSingleton(cut)
    threshold = (slots
                 | "InCutBucket" >> beam.Filter(
                     lambda s, c: c is not None and s[0] >> positives_lib.CAP_BUCKET_SHIFT == c[0],
                     cut_view)
                 | "CollectCutBucket" >> beam.combiners.ToList()
                 | "Threshold" >> beam.Map(_threshold, cut_view))
    return anchors | "Keep" >> beam.FlatMap(positives_lib._keep, beam.pvalue.AsSingleton(threshold),
                                            seed)
