"""`examples.local.sample_arrays`: cluster samples as arrays of ranks, hand-checked."""

import numpy as np

from pipelines.examples.local import sample_arrays
from pipelines.examples.local.anchors import AnchorSlots
from pipelines.examples.local.item_infos import LocalInfos
from pipelines.examples.reservoirs import Child, MemberSample, ParentSample

# Ranks 0..5; paths (l0, l1); rank 5 has no cluster row.
INFOS = LocalInfos(["a", "b", "c", "d", "e", "f"], {k: i for i, k in enumerate("abcdef")},
                   [("x", "P"), ("y", "P"), ("x", "P"), ("z", "Q"), ("y", "P"), None], set())
L0 = {(0, "x"): MemberSample(2, ("c", "a")), (0, "y"): MemberSample(5, ("e",)),
      (0, "z"): MemberSample(1, ("d",))}
L1 = {(1, "P"): ParentSample(3, (Child("y", 5, ("e", "b")), Child("x", 2, ("a",)))),
      (1, "Q"): ParentSample(1, (Child("z", 1, ("d",)),))}


def test_level0_arrays():
  l0 = sample_arrays.level0_arrays(INFOS, L0)
  assert l0.codes == {"x": 0, "y": 1, "z": 2}
  assert l0.cluster_of.tolist() == [0, 1, 0, 2, 1, -1]
  assert l0.size.tolist() == [2, 5, 1]
  assert l0.members.tolist() == [2, 0, 4, 3]
  assert l0.sample_start.tolist() == [0, 2, 3] and l0.sample_length.tolist() == [2, 1, 1]
  assert l0.position.tolist() == [1, -1, 0, 0, 0, -1]


def test_parent_arrays():
  l0 = sample_arrays.level0_arrays(INFOS, L0)
  l1 = sample_arrays.parent_arrays(INFOS, 1, L1, l0)
  assert l1.cluster_of.tolist() == [0, 0, 0, 1, 0, -1]
  assert l1.num_children.tolist() == [3, 1]
  assert l1.child_start.tolist() == [0, 2] and l1.child_count.tolist() == [2, 1]
  assert l1.child_code.tolist() == [1, 0, 2]
  assert l1.child_size.tolist() == [5, 2, 1]
  assert l1.child_cum.tolist() == [5, 7, 1]
  assert l1.key_width == 8 and l1.child_keys.tolist() == [5, 7, 9]
  assert l1.members.tolist() == [4, 1, 0, 3]
  assert l1.child_sample_start.tolist() == [0, 2, 3]
  assert l1.child_sample_length.tolist() == [2, 1, 1]
  # (parent P, child x) is row 1, (Q, z) row 2; (P, z) and (Q, y) are not sampled.
  assert l1.child_index(np.array([0, 1, 0, 1]), np.array([0, 2, 2, 1])).tolist() == [1, 2, -1, -1]


def test_excluded_positions():
  l0 = sample_arrays.level0_arrays(INFOS, L0)
  empty = np.zeros(0, np.int64)
  # Anchor a (rank 0, position 1 of x's reservoir) with reservoir neighbour c (position 0);
  # anchor b (rank 1, not in y's reservoir) with reservoir neighbour e (position 0).
  slots = AnchorSlots(np.array([0, 1]), np.array([1, 1]), np.array([1, 1]), empty, empty,
                      np.array([0, 1]), np.array([2, 4]), empty)
  keys, width, count = sample_arrays.excluded_positions(slots, l0, 6)
  assert width == 3
  # a: positions 0, 1 -> e_j - j = 0, 0; b: position 0 -> 0.
  assert keys.tolist() == [0, 0, 3] and count.tolist() == [2, 1, 0, 0, 0, 0]
