"""Anchors and their positives, with bounded work for hot items.

Edges (train-train only, see `pipelines/split.py`) are annotated with the
`ItemInfo` of both endpoints by two `SkewJoin`s (hot items are fanned out).
Each edge then feeds both directions x -> y where x may be an anchor (a train
item with features, and for smart triplets a cluster path) and y has
features. Per anchor, one combiner (`AdjacencyFn`, lifted before the
shuffle, so a hot item's adjacency list is never collected) keeps:

* the positives: min(positives_per_anchor, degree) distinct neighbours, a
  bottom-k by Efraimidis-Spirakis keys `-log(u)/w` (weighted: probability
  proportional to the edge weight, without replacement) or by `u`
  (uniform), u from a seeded hash of (anchor, neighbour);
* the degree, and `nbr0`: the number of neighbours in the anchor's own L0
  cluster (exact; level 0 needs it to know whether its pool is empty);
* `res_nbrs`: the neighbours that sit in the anchor's L0 reservoir (at most
  `reservoir_size` ids), which level 0 excludes when it draws.

`CapTriplets` then keeps exactly `--num_triplets` (anchor, positive) slots,
those with the smallest seeded hash, without a global sort (see below).
"""

import bisect
import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import split
from pipelines import hashing
from pipelines.examples.items import ItemInfo
from pipelines.examples.skew_join import DEFAULT_HOT_THRESHOLD, SkewJoin

CAP_BUCKET_SHIFT = 48  # 65536 hash buckets for the exact cap


class Neighbour(NamedTuple):
  """One direction of an edge, as the anchor's combiner sees it."""
  anchor: object  # ItemInfo of the anchor (a plain tuple in the pipeline)
  id: str
  rank: int
  weight: float
  same_l0: bool
  in_anchor_res0: bool


class Anchor(NamedTuple):
  info: object  # ItemInfo
  positives: tuple  # ((id, rank), ...) in sampling order
  degree: int  # neighbours that are train items with features
  nbr0: int  # of which in the anchor's L0 cluster
  res_nbrs: tuple  # sorted ids of neighbours inside the anchor's L0 reservoir


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
    return Anchor(ItemInfo(*acc[0]), tuple((i, r) for _, i, r in acc[1]), acc[2], acc[3],
                  tuple(sorted(acc[4])))


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


def slot_hash(seed: int, anchor: str, positive: str) -> tuple:
  """
  Args:
    seed: the run's seed.
    anchor: the anchor's id.
    positive: the positive's id.

  Returns:
    (hash, anchor, positive): the order `CapTriplets` keeps slots in.
  """
  return (hashing.hash64(seed, "slot", anchor, positive), anchor, positive)


def _slots(kv, seed):
  anchor_id, anchor = kv
  for positive, _ in anchor.positives:
    yield slot_hash(seed, anchor_id, positive)


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


def _keep(kv, threshold, seed):
  anchor_id, anchor = kv
  if threshold is None:
    return [kv]
  kept = tuple(p for p in anchor.positives if slot_hash(seed, anchor_id, p[0]) <= threshold)
  return [(anchor_id, anchor._replace(positives=kept))] if kept else []


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
           | "ToBucket" >> beam.Map(lambda s: (s[0] >> CAP_BUCKET_SHIFT, 1))
           | "CountPerBucket" >> beam.CombinePerKey(sum)
           | "Buckets" >> beam.combiners.ToList()
           | "Cut" >> beam.Map(_cut, limit))
    cut_view = beam.pvalue.AsSingleton(cut)
    threshold = (slots
                 | "InCutBucket" >> beam.Filter(
                     lambda s, c: c is not None and s[0] >> CAP_BUCKET_SHIFT == c[0], cut_view)
                 | "CollectCutBucket" >> beam.combiners.ToList()
                 | "Threshold" >> beam.Map(_threshold, cut_view))
    return anchors | "Keep" >> beam.FlatMap(_keep, beam.pvalue.AsSingleton(threshold), seed)
