"""Train items, dense ranks and cluster paths, in memory.

The same rules as `examples.stage_beam._train_only`, `items_beam.ItemInfos` and
`items_beam.DenseRanks` (the cluster samples are built in `sample_arrays.py`).
"""

import collections
import dataclasses

import numpy as np

from pipelines import hashing_vectorised
from pipelines.split import _SCALE
from pipelines.io.cluster_tables import reader as tables
from pipelines.io.rejected import Rejection


_KNOWN_IDS_MAX = 1 << 16  # longer id lists are hashed again: cheaper than 2 dict look-ups an id


def split_hashes(ids: list, known: dict | None = None) -> np.ndarray:
  """`split.split_hash` of every id, hashed in one batch; ids in `known` are not hashed again.

  A run asks for the split of the feature ids, the table ids and the edge ids:
  one `known` dict shared by the three hashes each id once. That holds up to
  `_KNOWN_IDS_MAX` ids a list: past it, a dict's look-ups miss the caches and cost
  more than hashing (measured on 2 loaded cores, a list of n ids hashed again
  against looked up: 100k 0.074 s vs 0.082, 1M 0.9 s vs 1.5, and filling the dict
  1M 2.1 s vs 0.6 s for hashing alone), so a longer list is hashed whole and not
  added to `known`.

  Args:
    ids: item ids.
    known: id -> split hash, added to (None: hash every id).

  Returns:
    A uint64 array, one hash per id.
  """
  if known is None or len(ids) > _KNOWN_IDS_MAX:
    return hashing_vectorised.blake2b64_strings(hashing_vectorised.encoded(ids))
  missing = list(dict.fromkeys(i for i in ids if i not in known))
  if missing:
    hashes = hashing_vectorised.blake2b64_strings(hashing_vectorised.encoded(missing))
    known.update(zip(missing, hashes.tolist()))
  return np.fromiter(map(known.__getitem__, ids), np.uint64, len(ids))


def split_parts(ids: list, test_fraction: float, validation_fraction: float,
                known: dict | None = None) -> list:
  """`split.split_of` of every id ("test", "validation" or "train"), hashed in one batch.

  Args:
    ids: item ids.
    test_fraction: the split's test fraction.
    validation_fraction: its validation fraction.
    known: `split_hashes`'s id -> hash dict, or None.

  Returns:
    Each id's part.
  """
  for fraction in (test_fraction, validation_fraction):
    if not 0.0 <= fraction <= 1.0:
      raise ValueError(f"split fractions must be in [0, 1], got {fraction}")
  hashes = split_hashes(ids, known)
  test = hashing_vectorised.below(hashes, test_fraction * _SCALE)
  validation = ~hashing_vectorised.below(hashes, (1.0 - validation_fraction) * _SCALE)
  return np.where(test, "test", np.where(validation, "validation", "train")).tolist()


def train_only(ids, test_fraction: float, validation_fraction: float, name: str, counts,
               known: dict | None = None):
  """The ids in the train split; the others are counted as `name` with {part} filled in.

  Args:
    ids: item ids.
    test_fraction: the split's test fraction.
    validation_fraction: its validation fraction.
    name: the count's name, with `{part}`.
    counts: a Counter, added to.
    known: `split_hashes`'s id -> hash dict, or None.

  Returns:
    The train ids.
  """
  ids = list(ids)
  parts = split_parts(ids, test_fraction, validation_fraction, known)
  for part, count in collections.Counter(parts).items():
    if part != "train":
      counts[name.format(part=part)] += count
  return [item_id for item_id, part in zip(ids, parts) if part == "train"]


def dense_ranks(ids, seed: int, salt: str = "rank") -> list:
  """The ids in increasing (seeded hash, id) order: position = `DenseRanks` rank.

  Args:
    ids: item ids.
    seed: the run's seed.
    salt: the rank's role in the hash.

  Returns:
    The ids in rank order.
  """
  return ranked(ids, seed, salt)[0]


def ranked(ids, seed: int, salt: str = "rank") -> tuple:
  """`dense_ranks`, with each ranked id's position in id order.

  Args:
    ids: item ids.
    seed: the run's seed.
    salt: the rank's role in the hash.

  Returns:
    (the ids in rank order, int64 array: each one's position in sorted id order).
  """
  ids = sorted(ids)
  hashes = hashing_vectorised.hash64(len(ids), seed, salt, hashing_vectorised.encoded(ids))
  order = np.argsort(hashes, kind="stable")  # ids sorted: equal hashes stay in id order
  return [ids[i] for i in order.tolist()], order


@dataclasses.dataclass
class LocalInfos:
  """`ItemInfo` of every train item with features, by rank."""
  ids: list  # ids[rank]
  rank: dict  # id -> rank
  paths: list  # paths[rank]: cluster path tuple or None
  by_name: np.ndarray  # by_name[rank]: position of the id in sorted id order
  in_res0: np.ndarray | None = None  # in_res0[rank]: inside its L0 cluster's reservoir


def item_infos(train_ids: list, rows: list, seed: int, with_tables: bool, stage: str,
               counts, rejections: list) -> LocalInfos:
  """`items_beam.ItemInfos`: ranks, the first row (by line) of each id, duplicate rows rejected.

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
  ids, by_name = ranked(train_ids, seed)
  rank = {item_id: r for r, item_id in enumerate(ids)}
  first, repeated = {}, set()
  for row in rows:
    if first.setdefault(row.id, row) is not row:
      repeated.add(row.id)
  if repeated:
    by_id = collections.defaultdict(list)
    for row in rows:
      if row.id in repeated:
        by_id[row.id].append(row)
    for item_id in [i for i in first if i in repeated]:
      its_rows = sorted(by_id[item_id], key=lambda a: a.line)
      first[item_id] = its_rows[0]
      for row in its_rows[1:]:
        rejections.append(Rejection(stage, tables.DUPLICATE_ID, row.line))
  paths = [None] * len(ids)
  for item_id, row in first.items():
    r = rank.get(item_id)
    if r is None:
      counts["items/assigned_without_features"] += 1
    else:
      paths[r] = row.path
  if with_tables:
    missing = paths.count(None)
    if missing:
      counts["items/train_without_cluster"] += missing
  return LocalInfos(ids, rank, paths, by_name)
