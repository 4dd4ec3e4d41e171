"""Train items, dense ranks, cluster paths and reservoirs, in memory.

The same rules as `make_examples._train_only`, `items.ItemInfos`,
`items.DenseRanks` and `reservoirs` (bottom-k by seeded hash, exact counts):
a bottom-k is a sort of (hash, value) pairs and a slice, which is what the
Beam combiners compute piece by piece.
"""

import collections
import dataclasses

import numpy as np

from pipelines import hashing_vectorised
from pipelines.split import _SCALE
from pipelines import hashing
from pipelines.io.cluster_tables import reader as tables
from pipelines.examples.items import ItemInfo
from pipelines.examples.reservoirs import Child, MemberSample, ParentSample
from pipelines.io.rejected import Rejection


def split_parts(ids: list, test_fraction: float, validation_fraction: float) -> list:
  """`split.split_of` of every id ("test", "validation" or "train"), hashed in one batch.

  Args:
    ids: item ids.
    test_fraction: the split's test fraction.
    validation_fraction: its validation fraction.

  Returns:
    Each id's part.
  """
  for fraction in (test_fraction, validation_fraction):
    if not 0.0 <= fraction <= 1.0:
      raise ValueError(f"split fractions must be in [0, 1], got {fraction}")
  hashes = hashing_vectorised.blake2b64_strings(hashing_vectorised.encoded(ids))
  test = hashing_vectorised.below(hashes, test_fraction * _SCALE)
  validation = ~hashing_vectorised.below(hashes, (1.0 - validation_fraction) * _SCALE)
  return np.where(test, "test", np.where(validation, "validation", "train")).tolist()


def train_only(ids, test_fraction: float, validation_fraction: float, name: str, counts):
  """The ids in the train split; the others are counted as `name` with {part} filled in.

  Args:
    ids: item ids.
    test_fraction: the split's test fraction.
    validation_fraction: its validation fraction.
    name: the count's name, with `{part}`.
    counts: a Counter, added to.

  Returns:
    The train ids.
  """
  ids = list(ids)
  kept = []
  for item_id, part in zip(ids, split_parts(ids, test_fraction, validation_fraction)):
    if part == "train":
      kept.append(item_id)
    else:
      counts[name.format(part=part)] += 1
  return kept


def dense_ranks(ids, seed: int, salt: str = "rank") -> list:
  """The ids in increasing (seeded hash, id) order: position = `DenseRanks` rank.

  Args:
    ids: item ids.
    seed: the run's seed.
    salt: the rank's role in the hash.

  Returns:
    The ids in rank order.
  """
  ids = list(ids)
  hashes = hashing_vectorised.hash64(len(ids), seed, salt, hashing_vectorised.encoded(ids))
  return [i for _, i in sorted(zip(hashes.tolist(), ids))]


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
  """`items.ItemInfos`: ranks, the first row (by line) of each id, duplicate rows rejected.

  Args:
    train_ids: the train items with features.
    rows: the assignment rows.
    seed: the run's seed.
    with_tables: whether cluster tables were given.
    stage: the stage name, for rejections.
    counts: a Counter, added to.
    rejections: a list, appended to.

  Returns:
    The LocalInfos.
  """
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


def _member_hashes(infos: LocalInfos, seed: int, level: int) -> list:
  """`reservoirs.member_hash(seed, level, id)` of every item, by rank."""
  return hashing_vectorised.hash64(len(infos.ids), seed, "reservoir", level,
                                   hashing_vectorised.encoded(infos.ids)).tolist()


def l0_samples(infos: LocalInfos, seed: int, reservoir_size: int) -> dict:
  """`reservoirs.L0Samples`: {(0, cluster): MemberSample}; sets `infos.in_res0`.

  Args:
    infos: the LocalInfos.
    seed: the run's seed.
    reservoir_size: members kept per cluster.

  Returns:
    {(0, cluster): MemberSample}.
  """
  groups = collections.defaultdict(list)
  for item_id, path, h in zip(infos.ids, infos.paths, _member_hashes(infos, seed, 0)):
    if path is not None:
      groups[(0, path[0])].append((h, item_id))
  samples = {key: MemberSample(count, tuple(m for _, m in smallest))
             for key, (count, smallest) in _bottom_k(groups, reservoir_size).items()}
  infos.in_res0 = {m for sample in samples.values() for m in sample.members}
  return samples


def parent_samples(infos: LocalInfos, level: int, seed: int, reservoir_size: int,
                   max_children: int) -> dict:
  """`reservoirs.ParentSamples` for one level >= 1: {(level, cluster): ParentSample}.

  Args:
    infos: the LocalInfos.
    level: the level (>= 1).
    seed: the run's seed.
    reservoir_size: members kept per child.
    max_children: children kept per cluster.

  Returns:
    {(level, cluster): ParentSample}.
  """
  children = collections.defaultdict(list)
  for item_id, path, h in zip(infos.ids, infos.paths, _member_hashes(infos, seed, level)):
    if path is not None:
      children[(path[level], path[level - 1])].append((h, item_id))
  parents = collections.defaultdict(list)
  for (parent, child), (count, smallest) in _bottom_k(children, reservoir_size).items():
    parents[(level, parent)].append((hashing.hash64(seed, "child", level, child),
                                     Child(child, count, tuple(m for _, m in smallest))))
  return {key: ParentSample(count, tuple(c for _, c in smallest))
          for key, (count, smallest) in _bottom_k(parents, max_children).items()}
