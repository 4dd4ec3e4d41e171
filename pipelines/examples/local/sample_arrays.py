"""The cluster samples (`reservoirs.MemberSample`, `ParentSample`) laid out as arrays of ranks.

`negatives` draws every slot's smart negative at once from these: clusters
are numbered per level in first-seen rank order, a sample's members are
ranks in one flat array, and a parent's sampled children (in their sample
order) are consecutive rows with their sizes and running size totals.
"""

import numpy as np


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


def _member_ranks(samples_members, rank: dict) -> tuple:
  """(flat member ranks, starts, lengths) of a sequence of member tuples."""
  lengths = np.fromiter(map(len, samples_members), np.int64, len(samples_members))
  starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
  members = np.fromiter((rank[m] for ms in samples_members for m in ms), np.int64,
                        int(lengths.sum()))
  return members, starts, lengths


def level0_arrays(infos, samples: dict) -> LevelArrays:
  """The L0 reservoirs (`item_infos.l0_samples`) as arrays.

  Args:
    infos: the `item_infos.LocalInfos`.
    samples: {(0, cluster): MemberSample}.

  Returns:
    The LevelArrays of level 0.
  """
  out = LevelArrays(infos.paths, 0)
  clusters = list(out.codes)
  out.size = np.zeros(len(clusters), np.int64)
  member_lists = []
  for code, cluster in enumerate(clusters):
    sample = samples.get((0, cluster))
    if sample is not None:
      out.size[code] = sample.size
    member_lists.append(() if sample is None else sample.members)
  out.members, out.sample_start, out.sample_length = _member_ranks(member_lists, infos.rank)
  out.position = np.full(len(infos.ids), -1, np.int64)
  out.position[out.members] = np.arange(len(out.members)) - np.repeat(out.sample_start,
                                                                       out.sample_length)
  return out


def parent_arrays(infos, level: int, samples: dict, below: LevelArrays) -> LevelArrays:
  """A level's parent samples (`item_infos.parent_samples`) as arrays.

  Args:
    infos: the `item_infos.LocalInfos`.
    level: the level (>= 1).
    samples: {(level, cluster): ParentSample}.
    below: the LevelArrays of level - 1 (its `codes` number the children).

  Returns:
    The LevelArrays of the level.
  """
  out = LevelArrays(infos.paths, level)
  clusters = list(out.codes)
  out.num_children = np.zeros(len(clusters), np.int64)
  children = []
  out.child_start = np.zeros(len(clusters), np.int64)
  out.child_count = np.zeros(len(clusters), np.int64)
  for code, cluster in enumerate(clusters):
    sample = samples.get((level, cluster))
    out.child_start[code] = len(children)
    if sample is not None:
      out.num_children[code] = sample.num_children
      out.child_count[code] = len(sample.children)
      children += sample.children
  out.child_code = np.fromiter((below.codes.get(c.id, -1) for c in children), np.int64,
                               len(children))
  out.child_size = np.fromiter((c.size for c in children), np.int64, len(children))
  parent_of_row = np.repeat(np.arange(len(clusters)), out.child_count)
  cum = np.cumsum(out.child_size)
  out.child_cum = cum - np.repeat(np.concatenate(([0], cum))[out.child_start], out.child_count)
  out.key_width = int(out.child_cum.max(initial=0)) + 1
  out.child_keys = parent_of_row * out.key_width + out.child_cum
  out.members, out.child_sample_start, out.child_sample_length = _member_ranks(
      [c.members for c in children], infos.rank)
  out._child_key_width = max(1, len(below.codes)) + 1  # pylint: disable=protected-access
  pairs = parent_of_row * out._child_key_width + out.child_code  # pylint: disable=protected-access
  order = np.argsort(pairs, kind="stable")
  out._child_pairs, out._child_pair_rows = pairs[order], order  # pylint: disable=protected-access
  return out


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
