"""The Beam transforms of `items`.

Kept apart so that the in-memory engines import `items` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing
from pipelines.examples import items
from pipelines.io.cluster_tables import reader as tables
from pipelines.io.rejected import Rejection


class DenseRanksResult(NamedTuple):
  ranks: beam.PCollection  # (id, rank), ranks 0..n-1
  count: beam.PCollection  # singleton: n


def _offsets(bucket_counts):
  offsets, total = {}, 0
  for bucket, count in sorted(bucket_counts):
    offsets[bucket] = total
    total += count
  return offsets, total


def _assign_ranks(kv, offsets):
  bucket, members = kv
  start = offsets[0][bucket]
  for i, (_, item_id) in enumerate(sorted(members)):
    yield item_id, start + i


@dataclasses.dataclass
class DenseRanks(beam.PTransform):
  """Unique ids -> (id, rank), ranks 0..n-1 in increasing seeded-hash order.

  Ids are bucketed by the top `BUCKET_BITS` bits of their hash (so bucket
  order is hash order); bucket counts give each bucket's first rank; each
  bucket (about n / 65536 ids) is sorted on its own. No step holds all ids.
  """
  seed: int
  salt: str = "rank"

  def __post_init__(self):
    super().__init__()

  def expand(self, ids):
    seed, salt, shift = self.seed, self.salt, 64 - items.BUCKET_BITS

    def keyed(item_id):
      h = hashing.hash64(seed, salt, item_id)
      return h >> shift, (h, item_id)

    by_bucket = ids | "ByBucket" >> beam.Map(keyed)
    offsets = (by_bucket
               | "OnePerId" >> beam.Map(lambda kv: (kv[0], 1))
               | "CountPerBucket" >> beam.CombinePerKey(sum)
               | "AllBuckets" >> beam.combiners.ToList()
               | "Offsets" >> beam.Map(_offsets))
    ranks = (by_bucket
             | "GroupBucket" >> beam.GroupByKey()
             | "Rank" >> beam.FlatMap(_assign_ranks, beam.pvalue.AsSingleton(offsets)))
    count = offsets | "Total" >> beam.Map(lambda o: o[1])
    return DenseRanksResult(ranks, count)


class _MakeInfo(beam.DoFn):

  def __init__(self, stage: str, with_tables: bool):
    self._stage = stage
    self._with_tables = with_tables

  def process(self, kv):
    item_id, grouped = kv
    rows = sorted(grouped["row"], key=lambda a: a.line)
    for row in rows[1:]:
      yield beam.pvalue.TaggedOutput("rejected", Rejection(self._stage, tables.DUPLICATE_ID,
                                                           row.line))
    ranks = list(grouped["rank"])
    if not ranks:
      yield beam.pvalue.TaggedOutput("stats", ("items/assigned_without_features", 1))
      return
    path = rows[0].path if rows else None
    if path is None and self._with_tables:
      yield beam.pvalue.TaggedOutput("stats", ("items/train_without_cluster", 1))
    yield items.ItemInfo(item_id, ranks[0], path)


class ItemInfosResult(NamedTuple):
  infos: beam.PCollection  # ItemInfo
  count: beam.PCollection  # singleton: number of infos (= n of the ranks)
  ranked_ids: beam.PCollection  # (rank, id)
  rejected: beam.PCollection
  stats: beam.PCollection


@dataclasses.dataclass
class ItemInfos(beam.PTransform):
  """(train feature ids, train Assignment rows) -> ItemInfo per item.

  Attributes:
    seed: the run's seed.
    with_tables: whether cluster tables were given (else rows is empty and
      items without a row are not counted as such).
    stage: stage name for rejections.
  """
  seed: int
  with_tables: bool = True
  stage: str = "examples"

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    ids, assignments = pcolls
    ranked = ids | "DenseRanks" >> DenseRanks(self.seed)
    rows = assignments | "KeyRows" >> beam.Map(lambda a: (a.id, a))
    made = ({"rank": ranked.ranks, "row": rows}
            | "JoinRanksAndRows" >> beam.CoGroupByKey()
            | "MakeInfo" >> beam.ParDo(_MakeInfo(self.stage, self.with_tables))
            .with_outputs("rejected", "stats", main="infos"))
    ranked_ids = ranked.ranks | "ByRank" >> beam.MapTuple(lambda i, r: (r, i))
    return ItemInfosResult(made.infos, ranked.count, ranked_ids, made.rejected, made.stats)


def _member_flags(kv):
  for member in kv[1].members:
    yield member, True


def _set_flag(kv):
  grouped = kv[1]
  for info in grouped["info"]:
    yield info._replace(in_res0=bool(grouped["flag"]))


@dataclasses.dataclass
class FlagL0Reservoirs(beam.PTransform):
  """(ItemInfo, ((0, c), MemberSample)) -> ItemInfo with `in_res0` set."""

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    infos, samples = pcolls
    flags = samples | "Members" >> beam.FlatMap(_member_flags)
    keyed = infos | "KeyInfo" >> beam.Map(lambda i: (i.id, i))
    return ({"info": keyed, "flag": flags}
            | "JoinFlags" >> beam.CoGroupByKey()
            | "SetFlag" >> beam.FlatMap(_set_flag).with_output_types(items.ItemInfo))
