"""pair_groups: duplicate pairs combined by max and by exact sum."""

import concurrent.futures
import math

import numpy as np

from pipelines.io import pair_groups


def test_group_pairs_max_and_sum_hand_computed():
  lo = np.array([2, 0, 2, 0, 1])
  hi = np.array([3, 1, 3, 1, 2])
  values = np.array([1.0, 5.0, 4.0, 0.5, 2.0])
  a, b, combined, occurrences = pair_groups.group_pairs(lo, hi, values, 4, "max")
  assert (a.tolist(), b.tolist()) == ([0, 1, 2], [1, 2, 3])
  assert combined.tolist() == [5.0, 2.0, 4.0]
  assert occurrences.tolist() == [2, 1, 2]
  _, _, sums, _ = pair_groups.group_pairs(lo, hi, values, 4, "sum")
  assert sums.tolist() == [5.5, 2.0, 5.0]


def test_group_pairs_of_nothing():
  empty = np.zeros(0, np.int64)
  a, _, _, occurrences = pair_groups.group_pairs(empty, empty, np.zeros(0), 1, "max")
  assert len(a) == 0 and len(occurrences) == 0


def test_exact_group_sums_equal_fsum():
  rng = np.random.default_rng(0)
  values = rng.random(5000) * 10.0 ** rng.integers(-8, 8, 5000)
  groups = np.sort(rng.integers(0, 700, 5000))
  order = np.argsort(groups, kind="stable")
  values, groups = values[order], groups[order]
  starts = np.flatnonzero(np.concatenate(([True], groups[1:] != groups[:-1])))
  got = pair_groups.exact_group_sums(values, starts)
  bounds = list(starts) + [len(values)]
  want = [math.fsum(values[s:e]) for s, e in zip(bounds, bounds[1:])]
  assert got.tolist() == want


def test_sort_in_halves_equals_a_sort(monkeypatch):
  monkeypatch.setattr(pair_groups, "_CHUNK", 64)  # halves partitioned and sorted on threads
  keys = np.random.default_rng(1).integers(0, 50, 1001).astype(np.uint64)  # ties across halves
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    got = keys.copy()
    pair_groups.sort_in_halves(got, pool)
  assert got.tolist() == sorted(keys.tolist())


def test_group_pairs_by_chunks_on_threads_equals_a_dict(monkeypatch):
  monkeypatch.setattr(pair_groups, "_CHUNK", 128)  # many gather chunks, partitioned sort
  rng = np.random.default_rng(2)
  a, b = rng.integers(0, 60, 5000), rng.integers(0, 60, 5000)
  lo, hi, values = np.minimum(a, b), np.maximum(a, b), rng.random(5000)
  want = {}
  for key, value in zip(zip(lo.tolist(), hi.tolist()), values.tolist()):
    want[key] = max(want.get(key, 0.0), value)
  got_lo, got_hi, combined, occurrences = pair_groups.group_pairs(lo, hi, values, 60, "max")
  assert list(zip(got_lo.tolist(), got_hi.tolist())) == sorted(want)
  assert combined.tolist() == [want[k] for k in sorted(want)]
  assert occurrences.sum() == 5000
