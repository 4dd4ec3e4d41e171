"""The Beam transforms of `reservoirs`.

Kept apart so that the in-memory engines import `reservoirs` without Beam
(`pipelines/beam_parts.py`).
"""

import bisect
import dataclasses

import apache_beam as beam

from pipelines import hashing
from pipelines.examples import reservoirs


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


@dataclasses.dataclass
class L0Samples(beam.PTransform):
  """ItemInfo (with a path) -> ((0, l0 cluster), MemberSample)."""
  seed: int
  reservoir_size: int = reservoirs.DEFAULT_RESERVOIR_SIZE

  def __post_init__(self):
    super().__init__()

  def expand(self, infos):
    seed = self.seed
    return (infos
            | "KeyByL0" >> beam.Map(lambda i: ((0, i.path[0]),
                                               (reservoirs.member_hash(seed, 0, i.id), i.id)))
            | "BottomK" >> beam.CombinePerKey(BottomKFn(self.reservoir_size))
            | "ToSample" >> beam.MapTuple(lambda key, out: (
                key, reservoirs.MemberSample(out[0], tuple(m for _, m in out[1])))))


@dataclasses.dataclass
class ParentSamples(beam.PTransform):
  """ItemInfo (with a path) -> ((level, cluster), ParentSample) for one level >= 1."""
  level: int
  seed: int
  reservoir_size: int = reservoirs.DEFAULT_RESERVOIR_SIZE
  max_children: int = reservoirs.DEFAULT_MAX_CHILDREN

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
                                reservoirs.Child(child, out[0], tuple(m for _, m in out[1]))))

    return (infos
            | "KeyByChild" >> beam.Map(
                lambda i: ((i.path[level], i.path[level - 1]),
                           (reservoirs.member_hash(seed, level, i.id), i.id)))
            | "ChildMembers" >> beam.CombinePerKey(BottomKFn(self.reservoir_size))
            | "ByParent" >> beam.MapTuple(child_record)
            | "SampleChildren" >> beam.CombinePerKey(BottomKFn(self.max_children))
            | "ToSample" >> beam.MapTuple(lambda key, out: (
                key, reservoirs.ParentSample(out[0], tuple(c for _, c in out[1])))))
