"""The cluster samples (`reservoirs.MemberSample`, `ParentSample`) laid out as arrays of ranks.

`negatives` draws every slot's smart negative at once from these: clusters
are numbered per level in first-seen rank order, a sample's members are
ranks in one flat array, and a parent's sampled children (in their sample
order) are consecutive rows with their sizes and running size totals.
"""

import numpy as np

from pipelines import hashing_vectorised


class LevelArrays:
  """One level's clusters and samples.

  Attributes:
    codes: cluster id -> number, for the clusters of the items' paths at this level.
    cluster_of: each rank's cluster number at this level (-1: no path).
    size: level 0: each cluster's exact train size.
    sample_start, sample_length: level 0: each cluster's reservoir in `members`.
    position: level 0: each rank's position in its cluster's reservoir (-1: not in it).
    num_children: level >= 1: each parent's exact number of children.
    child_start, child_count: level >= 1: each parent's sampled children (rows).
    child_code, child_size, child_cum: per child row: its number one level
      down, its size, the parent's running size total through it.
    child_sample_start, child_sample_length: per child row: its members in `members`.
    child_keys, key_width: parent number * key_width + child_cum, increasing.
    members: sample members (ranks).
  """

  def __init__(self, paths: list, level: int):
    self.codes = {}
    codes = self.codes
    self.cluster_of = np.fromiter(
        (-1 if path is None else codes.setdefault(path[level], len(codes)) for path in paths),
        np.int64, len(paths))

  def child_index(self, parent: np.ndarray, child_code: np.ndarray) -> np.ndarray:
    """The row of each (parent, child number) among the sampled children, or -1."""
    keys = parent * self._child_key_width + child_code
    at = np.minimum(np.searchsorted(self._child_pairs, keys), max(0, len(self._child_pairs) - 1))
    found = (self._child_pairs[at] == keys) if len(self._child_pairs) else np.zeros(
        len(keys), bool)
    return np.where(found, self._child_pair_rows[at] if len(self._child_pairs) else -1, -1)


def _set_children(out: LevelArrays, below: LevelArrays, child_code, child_size, members,
                  sample_start, sample_length) -> None:
  """Sets a parent level's child rows (in parent order, `child_start`/`child_count` set)."""
  out.child_code, out.child_size, out.members = child_code, child_size, members
  out.child_sample_start, out.child_sample_length = sample_start, sample_length
  parent_of_row = np.repeat(np.arange(len(out.child_start)), out.child_count)
  cum = np.cumsum(out.child_size)
  out.child_cum = cum - np.repeat(np.concatenate(([0], cum))[out.child_start], out.child_count)
  out.key_width = int(out.child_cum.max(initial=0)) + 1
  out.child_keys = parent_of_row * out.key_width + out.child_cum
  out._child_key_width = max(1, len(below.codes)) + 1  # pylint: disable=protected-access
  pairs = parent_of_row * out._child_key_width + out.child_code  # pylint: disable=protected-access
  order = np.argsort(pairs, kind="stable")
  out._child_pairs, out._child_pair_rows = pairs[order], order  # pylint: disable=protected-access


def _groups(keys: list) -> tuple:
  """Runs of equal rows of the sorted key columns: (starts, sizes)."""
  n = len(keys[0])
  first = np.ones(n, bool)
  if n:
    first[1:] = np.any([k[1:] != k[:-1] for k in keys], axis=0)
  starts = np.flatnonzero(first)
  return starts, np.diff(np.append(starts, n))


def _first_k(order_rows: np.ndarray, starts: np.ndarray, sizes: np.ndarray, k: int) -> tuple:
  """The first min(size, k) rows of each run: (rows, sample starts, sample lengths)."""
  take = np.minimum(sizes, k)
  offsets = np.cumsum(take) - take
  within = np.arange(int(take.sum())) - np.repeat(offsets, take)
  return order_rows[np.repeat(starts, take) + within], offsets, take


def level0_samples(infos, names: np.ndarray, by_name: np.ndarray, seed: int,
                   reservoir_size: int) -> LevelArrays:
  """`item_infos.l0_samples` built as arrays: each L0 cluster's bottom-k by (hash, id).

  Args:
    infos: the `item_infos.LocalInfos`.
    names: ids by rank (numpy bytes).
    by_name: each rank's position in id order.
    seed: the run's seed.
    reservoir_size: members kept per cluster.

  Returns:
    The LevelArrays of level 0.
  """
  out = LevelArrays(infos.paths, 0)
  ranks = np.flatnonzero(out.cluster_of >= 0)
  hashes = hashing_vectorised.hash64(len(ranks), seed, "reservoir", 0, names[ranks])
  cluster = out.cluster_of[ranks]
  order = np.lexsort((by_name[ranks], hashes, cluster))
  ranks, cluster = ranks[order], cluster[order]
  starts, out.size = _groups([cluster])
  out.members, out.sample_start, out.sample_length = _first_k(ranks, starts, out.size,
                                                              reservoir_size)
  out.position = np.full(len(infos.ids), -1, np.int64)
  out.position[out.members] = np.arange(len(out.members)) - np.repeat(out.sample_start,
                                                                       out.sample_length)
  return out


def parent_samples(infos, names: np.ndarray, by_name: np.ndarray, level: int, seed: int,
                   reservoir_size: int, max_children: int, below: LevelArrays) -> LevelArrays:
  """`item_infos.parent_samples` built as arrays.

  Children are the (parent, child) runs of the items sorted by (parent,
  child, member hash, id); each parent keeps its `max_children` children of
  smallest (child hash, child id).

  Args:
    infos: the `item_infos.LocalInfos`.
    names: ids by rank (numpy bytes).
    by_name: each rank's position in id order.
    level: the level (>= 1).
    seed: the run's seed.
    reservoir_size: members kept per child.
    max_children: children kept per parent.
    below: the LevelArrays of level - 1.

  Returns:
    The LevelArrays of the level.
  """
  out = LevelArrays(infos.paths, level)
  ranks = np.flatnonzero(out.cluster_of >= 0)
  hashes = hashing_vectorised.hash64(len(ranks), seed, "reservoir", level, names[ranks])
  parent, child = out.cluster_of[ranks], below.cluster_of[ranks]
  order = np.lexsort((by_name[ranks], hashes, child, parent))
  ranks, parent, child = ranks[order], parent[order], child[order]
  starts, sizes = _groups([parent, child])
  members, sample_start, sample_length = _first_k(ranks, starts, sizes, reservoir_size)
  g_parent, g_child = parent[starts], child[starts]
  child_ids = list(below.codes)
  child_names = hashing_vectorised.encoded(child_ids) if child_ids else np.zeros(0, "S1")
  child_hash = hashing_vectorised.hash64(len(g_child), seed, "child", level,
                                         child_names[g_child])
  id_order = np.empty(len(child_ids), np.int64)
  id_order[np.argsort(np.array(child_ids, dtype=object), kind="stable")] = np.arange(
      len(child_ids))
  rows = np.lexsort((id_order[g_child], child_hash, g_parent))
  parent_starts, out.num_children = _groups([g_parent[rows]])
  kept, out.child_start, out.child_count = _first_k(rows, parent_starts, out.num_children,
                                                    max_children)
  _set_children(out, below, g_child[kept], sizes[kept],
                *_gather_runs(members, sample_start[kept], sample_length[kept]))
  return out


def _gather_runs(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> tuple:
  """values[starts[i]:starts[i] + lengths[i]] for each i, concatenated: (values, starts, lengths)."""
  offsets = np.cumsum(lengths) - lengths
  within = np.arange(int(lengths.sum())) - np.repeat(offsets, lengths)
  return values[np.repeat(starts, lengths) + within], offsets, lengths


def excluded_positions(slots, l0: LevelArrays, n: int) -> tuple:
  """Each anchor's excluded reservoir positions at level 0, for `negatives.level0`.

  The excluded positions are the anchor's own (when it is in its reservoir)
  and its reservoir neighbours'. Sorted per anchor as e_0 < e_1 < ..., they
  are kept as keys `anchor rank * width + e_j - j`, increasing.

  Args:
    slots: the `anchors.AnchorSlots`.
    l0: the L0 LevelArrays.
    n: the number of ranks.

  Returns:
    (keys, width, count of excluded positions by anchor rank).
  """
  anchor = slots.anchor[l0.position[slots.anchor] >= 0]
  owners = np.concatenate((anchor, slots.res_anchor))
  positions = np.concatenate((l0.position[anchor], l0.position[slots.res_neighbour]))
  order = np.lexsort((positions, owners))
  owners, positions = owners[order], positions[order]
  distinct = np.ones(len(owners), bool)
  distinct[1:] = (owners[1:] != owners[:-1]) | (positions[1:] != positions[:-1])
  owners, positions = owners[distinct], positions[distinct]
  first = np.ones(len(owners), bool)
  first[1:] = owners[1:] != owners[:-1]
  starts = np.flatnonzero(first)
  j = np.arange(len(owners)) - np.repeat(starts, np.diff(np.append(starts, len(owners))))
  width = int(l0.sample_length.max(initial=0)) + 1
  count = np.bincount(owners, minlength=n).astype(np.int64)
  return owners * width + positions - j, width, count
