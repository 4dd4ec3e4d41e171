"""Train items, dense ranks, cluster paths and reservoirs, in memory.

The same rules as `make_examples._train_only`, `items.ItemInfos`,
`items.DenseRanks` and `reservoirs` (bottom-k by seeded hash, exact counts):
a bottom-k is a sort of (hash, value) pairs and a slice, which is what the
Beam combiners compute piece by piece.
"""

import collections
import dataclasses

from pipelines import hashing, split
from pipelines.io.cluster_tables import reader as tables
from pipelines.examples.items import ItemInfo
from pipelines.examples.reservoirs import Child, MemberSample, ParentSample, member_hash
from pipelines.io.rejected import Rejection


def train_only(ids, test_fraction: float, validation_fraction: float, name: str, counts):
  """The ids in the train split; the others are counted as `name` with {part} filled in."""
  kept = []
  for item_id in ids:
    part = split.split_of(item_id, test_fraction, validation_fraction)
    if part == "train":
      kept.append(item_id)
    else:
      counts[name.format(part=part)] += 1
  return kept


def dense_ranks(ids, seed: int, salt: str = "rank") -> list:
  """The ids in increasing (seeded hash, id) order: position = `DenseRanks` rank."""
  return [i for _, i in sorted((hashing.hash64(seed, salt, i), i) for i in ids)]


@dataclasses.dataclass
class LocalInfos:
  """`ItemInfo` of every train item with features, by rank."""
  ids: list  # ids[rank]
  rank: dict  # id -> rank
  paths: list  # paths[rank]: cluster path tuple or None
  in_res0: set  # ids inside their L0 cluster's reservoir

  def info(self, rank: int) -> ItemInfo:
    item_id = self.ids[rank]
    return ItemInfo(item_id, rank, self.paths[rank], item_id in self.in_res0)


def item_infos(train_ids: list, rows: list, seed: int, with_tables: bool, stage: str,
               counts, rejections: list) -> LocalInfos:
  """`items.ItemInfos`: ranks, the first row (by line) of each id, duplicate rows rejected."""
  ids = dense_ranks(train_ids, seed)
  rank = {item_id: r for r, item_id in enumerate(ids)}
  by_id = collections.defaultdict(list)
  for row in rows:
    by_id[row.id].append(row)
  paths = [None] * len(ids)
  for item_id, its_rows in by_id.items():
    its_rows.sort(key=lambda a: a.line)
    for row in its_rows[1:]:
      rejections.append(Rejection(stage, tables.DUPLICATE_ID, row.line))
    if item_id not in rank:
      counts["items/assigned_without_features"] += 1
    else:
      paths[rank[item_id]] = its_rows[0].path
  if with_tables:
    missing = paths.count(None)
    if missing:
      counts["items/train_without_cluster"] += missing
  return LocalInfos(ids, rank, paths, set())


def _bottom_k(groups: dict, k: int) -> dict:
  """{key: [(hash, value), ...]} -> {key: (count, k smallest pairs in order)}."""
  return {key: (len(pairs), tuple(sorted(pairs)[:k])) for key, pairs in groups.items()}


def l0_samples(infos: LocalInfos, seed: int, reservoir_size: int) -> dict:
  """`reservoirs.L0Samples`: {(0, cluster): MemberSample}; sets `infos.in_res0`."""
  groups = collections.defaultdict(list)
  for item_id, path in zip(infos.ids, infos.paths):
    if path is not None:
      groups[(0, path[0])].append((member_hash(seed, 0, item_id), item_id))
  samples = {key: MemberSample(count, tuple(m for _, m in smallest))
             for key, (count, smallest) in _bottom_k(groups, reservoir_size).items()}
  infos.in_res0 = {m for sample in samples.values() for m in sample.members}
  return samples


def parent_samples(infos: LocalInfos, level: int, seed: int, reservoir_size: int,
                   max_children: int) -> dict:
  """`reservoirs.ParentSamples` for one level >= 1: {(level, cluster): ParentSample}."""
  children = collections.defaultdict(list)
  for item_id, path in zip(infos.ids, infos.paths):
    if path is not None:
      children[(path[level], path[level - 1])].append((member_hash(seed, level, item_id),
                                                       item_id))
  parents = collections.defaultdict(list)
  for (parent, child), (count, smallest) in _bottom_k(children, reservoir_size).items():
    parents[(level, parent)].append((hashing.hash64(seed, "child", level, child),
                                     Child(child, count, tuple(m for _, m in smallest))))
  return {key: ParentSample(count, tuple(c for _, c in smallest))
          for key, (count, smallest) in _bottom_k(parents, max_children).items()}
