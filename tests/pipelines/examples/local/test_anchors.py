"""`examples.local.anchors.by_key_within`: lexsort's order by (group, key, tiebreak)."""

import numpy as np

from pipelines.examples.local import anchors


def test_hand_computed_order_with_tied_keys():
  group = np.array([1, 0, 1, 0, 1, 1])
  key = np.array([0.5, 0.25, 0.5, 0.75, 0.125, 0.5])
  tiebreak = np.array([9, 3, 2, 1, 8, 5])
  # group 0: keys 0.25 (1), 0.75 (3); group 1: 0.125 (4), then 0.5 tied: tiebreak 2 (2), 5 (5), 9 (0)
  assert anchors.by_key_within(group, key, tiebreak).tolist() == [1, 3, 4, 2, 5, 0]


def test_same_as_lexsort_with_zeros_nans_and_infinities():
  rng = np.random.default_rng(1)
  values = np.array([0.0, -0.0, 1.0, 2.5, np.nan, np.inf])
  for _ in range(200):
    n = int(rng.integers(0, 40))
    group, key = rng.integers(0, 4, n), rng.choice(values, n)
    tiebreak = rng.permutation(n)
    assert (anchors.by_key_within(group, key, tiebreak).tolist()
            == np.lexsort((tiebreak, key, group)).tolist())
