"""`examples.local.sample_arrays`: the cluster samples as arrays, against the scalar rules."""

import numpy as np

from pipelines import hashing, hashing_vectorised
from pipelines.examples.local import sample_arrays
from pipelines.examples.local.anchors import AnchorSlots
from pipelines.examples.local.item_infos import LocalInfos, ranked

SEED = 3


def _infos():
  # 40 items in L0 clusters x0..x5, L1 clusters P (x0..x2), Q (x3, x4), R (x5); 3 without path.
  ids, by_name = ranked([f"i{k:02d}" for k in range(40)], SEED)
  paths = []
  for item_id in ids:
    k = int(item_id[1:])
    l0 = k % 6
    paths.append(None if k >= 37 else (f"x{l0}", "P" if l0 < 3 else "Q" if l0 < 5 else "R"))
  return LocalInfos(ids, {i: r for r, i in enumerate(ids)}, paths, by_name)


def _bottom_k(groups: dict, k: int) -> dict:
  """The scalar rule: {key: (count, k smallest (hash, value) pairs)}."""
  return {key: (len(pairs), sorted(pairs)[:k]) for key, pairs in groups.items()}


def test_level0_samples_are_bottom_k_by_hash_and_id():
  infos = _infos()
  names = hashing_vectorised.encoded(infos.ids)
  l0 = sample_arrays.level0_samples(infos, names, infos.by_name, SEED, 3)
  groups = {}
  for item_id, path in zip(infos.ids, infos.paths):
    if path is not None:
      groups.setdefault(path[0], []).append((hashing.hash64(SEED, "reservoir", 0, item_id),
                                              item_id))
  for cluster, (count, smallest) in _bottom_k(groups, 3).items():
    code = l0.codes[cluster]
    assert l0.size[code] == count
    start, length = l0.sample_start[code], l0.sample_length[code]
    assert [infos.ids[r] for r in l0.members[start:start + length]] == [m for _, m in smallest]
  for r, item_id in enumerate(infos.ids):
    code = l0.cluster_of[r]
    members = l0.members[l0.sample_start[code]:l0.sample_start[code] + l0.sample_length[code]]
    expected = members.tolist().index(r) if code >= 0 and r in members else -1
    assert l0.position[r] == expected


def test_parent_samples_keep_children_by_hash():
  infos = _infos()
  names = hashing_vectorised.encoded(infos.ids)
  l0 = sample_arrays.LevelArrays(infos.paths, 0)
  l1 = sample_arrays.parent_samples(infos, names, infos.by_name, 1, SEED, 2, 2, l0)
  children = {}
  for item_id, path in zip(infos.ids, infos.paths):
    if path is not None:
      children.setdefault((path[1], path[0]), []).append(
          (hashing.hash64(SEED, "reservoir", 1, item_id), item_id))
  parents = {}
  for (parent, child), (count, smallest) in _bottom_k(children, 2).items():
    parents.setdefault(parent, []).append((hashing.hash64(SEED, "child", 1, child), child,
                                           count, [m for _, m in smallest]))
  child_ids = list(l0.codes)
  for parent, kids in parents.items():
    code = l1.codes[parent]
    kept = sorted(kids)[:2]
    assert l1.num_children[code] == len(kids)
    rows = range(l1.child_start[code], l1.child_start[code] + l1.child_count[code])
    got = [(child_ids[l1.child_code[i]], l1.child_size[i], [infos.ids[m] for m in l1.members[
        l1.child_sample_start[i]:l1.child_sample_start[i] + l1.child_sample_length[i]]])
           for i in rows]
    assert got == [(c, n, m) for _, c, n, m in kept]
    assert l1.child_cum[list(rows)].tolist() == np.cumsum([n for _, _, n, _ in kept]).tolist()
    for i in rows:
      assert l1.child_index(np.array([code]), l1.child_code[[i]]).tolist() == [i]
  assert l1.child_index(np.array([l1.codes["R"]]), np.array([l0.codes["x0"]])).tolist() == [-1]


def test_excluded_positions():
  infos = _infos()
  l0 = sample_arrays.level0_samples(infos, hashing_vectorised.encoded(infos.ids),
                                    infos.by_name, SEED, 3)
  # Anchor a: the first member of cluster 0's reservoir, with its third member as a reservoir
  # neighbour; anchor b: a rank outside every reservoir, with cluster 1's first member.
  start0, start1 = l0.sample_start[0], l0.sample_start[1]
  a, c = l0.members[start0], l0.members[start0 + 2]
  b = int(np.flatnonzero(l0.position < 0)[0])
  e = l0.members[start1]
  empty = np.zeros(0, np.int64)
  anchors = np.array(sorted([a, b]))
  slots = AnchorSlots(anchors, np.ones(2, np.int64), np.ones(2, np.int64), empty, empty,
                      np.array([a, b]), np.array([c, e]), empty)
  keys, width, count = sample_arrays.excluded_positions(slots, l0, len(infos.ids))
  assert width == 4
  # a: positions 0 and 2 -> e_j - j = 0, 1; b: position 0 -> 0.
  assert sorted(keys.tolist()) == sorted([a * 4 + 0, a * 4 + 1, b * 4 + 0])
  assert count[a] == 2 and count[b] == 1 and count.sum() == 3
