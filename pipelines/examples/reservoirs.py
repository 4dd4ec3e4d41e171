"""Bounded, order-independent cluster samples ("reservoirs").

A reservoir is a *bottom-k by hash*: of all (train, featured) members of a
cluster it keeps the k with the smallest seeded hash of their id, plus the
exact member count. Bottom-k is a combiner (the bottom-k of the union is the
bottom-k of the bottom-k's), so it is computed with combiner lifting before
the shuffle, no worker ever holds a whole cluster, and the result does not
depend on bundle order. Reservoir membership does not depend on anything but
the id, so a reservoir is a uniform random sample of its cluster.

Two kinds of samples serve the smart negatives (`smart_negatives.py`):

* `MemberSample` per L0 cluster: (size, k members). Level 0 excludes the
  anchor and its neighbours by id, which needs the members themselves.
* `ParentSample` per level-l cluster (l >= 1): the exact number of non-empty
  children (level-(l-1) clusters inside it), and a bottom-`max_children`
  sample of them, each with its size and its own bottom-k members. The pool
  at level l (the parent minus the anchor's own child) is non-empty exactly
  when the parent has at least two non-empty children, and then the sample
  always holds a child other than the anchor's (it holds min(children,
  max_children) >= 2 of them), so emptiness is decided exactly.
"""

import bisect
import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing

DEFAULT_RESERVOIR_SIZE = 256
DEFAULT_MAX_CHILDREN = 16


class BottomKFn(beam.CombineFn):
  """Counts inputs and keeps the k smallest by (hash, value).

  Inputs are (hash, value) pairs with a total order; the output is
  (count, tuple of the k smallest pairs in increasing order).
  """

  def __init__(self, k: int):
    if k < 1:
      raise ValueError(f"k must be at least 1, got {k}")
    self._k = k

  def create_accumulator(self):
    return (0, [])

  def add_input(self, acc, element):
    count, smallest = acc
    if len(smallest) < self._k or element < smallest[-1]:
      bisect.insort(smallest, element)
      del smallest[self._k:]
    return (count + 1, smallest)

  def merge_accumulators(self, accs):
    count, merged = 0, []
    for c, smallest in accs:
      count += c
      merged.extend(smallest)
    merged.sort()
    return (count, merged[:self._k])

  def extract_output(self, acc):
    return (acc[0], tuple(acc[1]))


class MemberSample(NamedTuple):
  """An L0 cluster's train members with features: exact size, bottom-k ids."""
  size: int
  members: tuple  # ids in increasing seeded-hash order


class Child(NamedTuple):
  id: str  # the child cluster's id (level l-1)
  size: int  # its train members with features
  members: tuple  # bottom-k ids of those members


class ParentSample(NamedTuple):
  """A level-l cluster (l >= 1): exact number of children, a sample of them."""
  num_children: int
  children: tuple  # Child, in increasing seeded-hash order of the child id


def member_hash(seed: int, level: int, item_id: str) -> int:
  """
  Args:
    seed: the run's seed.
    level: the reservoir's level.
    item_id: the member.

  Returns:
    The member's key; the smallest keys are the reservoir.
  """
  return hashing.hash64(seed, "reservoir", level, item_id)


@dataclasses.dataclass
class L0Samples(beam.PTransform):
  """ItemInfo (with a path) -> ((0, l0 cluster), MemberSample)."""
  seed: int
  reservoir_size: int = DEFAULT_RESERVOIR_SIZE

  def __post_init__(self):
    super().__init__()

  def expand(self, infos):
    seed = self.seed
    return (infos
            | "KeyByL0" >> beam.Map(lambda i: ((0, i.path[0]),
                                               (member_hash(seed, 0, i.id), i.id)))
            | "BottomK" >> beam.CombinePerKey(BottomKFn(self.reservoir_size))
            | "ToSample" >> beam.MapTuple(lambda key, out: (
                key, MemberSample(out[0], tuple(m for _, m in out[1])))))


@dataclasses.dataclass
class ParentSamples(beam.PTransform):
  """ItemInfo (with a path) -> ((level, cluster), ParentSample) for one level >= 1."""
  level: int
  seed: int
  reservoir_size: int = DEFAULT_RESERVOIR_SIZE
  max_children: int = DEFAULT_MAX_CHILDREN

  def __post_init__(self):
    super().__init__()
    if self.level < 1:
      raise ValueError("ParentSamples needs a level >= 1")
    if self.max_children < 2:
      raise ValueError("max_children must be at least 2 (exact emptiness needs two)")

  def expand(self, infos):
    seed, level = self.seed, self.level

    def child_record(key, out):
      parent, child = key
      return ((level, parent), (hashing.hash64(seed, "child", level, child),
                                Child(child, out[0], tuple(m for _, m in out[1]))))

    return (infos
            | "KeyByChild" >> beam.Map(lambda i: ((i.path[level], i.path[level - 1]),
                                                  (member_hash(seed, level, i.id), i.id)))
            | "ChildMembers" >> beam.CombinePerKey(BottomKFn(self.reservoir_size))
            | "ByParent" >> beam.MapTuple(child_record)
            | "SampleChildren" >> beam.CombinePerKey(BottomKFn(self.max_children))
            | "ToSample" >> beam.MapTuple(lambda key, out: (
                key, ParentSample(out[0], tuple(c for _, c in out[1])))))
