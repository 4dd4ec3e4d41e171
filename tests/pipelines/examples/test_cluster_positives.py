"""`pipelines/examples/cluster_positives.py`: an anchor's extra positives from its L0 cluster."""

from pipelines import hashing
from pipelines.examples.cluster_positives import pick_cluster_positives
from pipelines.examples.items import ItemInfo
from pipelines.examples.positives import Anchor


def _anchor(positives=(), res_nbrs=()):
  return Anchor(ItemInfo("a", 0, None), tuple((p, 0) for p in positives), 0, 0, tuple(res_nbrs))


def test_the_k_members_of_smallest_hash_that_are_not_excluded():
  members = ["a", "m1", "m2", "m3", "m4", "p", "n"]
  # The anchor itself, its graph positive p and its reservoir neighbour n are excluded.
  eligible = ["m1", "m2", "m3", "m4"]
  by_hash = sorted(eligible, key=lambda m: hashing.hash64(5, "cluster_positive", "a", m))
  got = pick_cluster_positives("a", _anchor(["p"], ["n"]), members, k=2, seed=5)
  assert got == by_hash[:2]


def test_fewer_members_than_k_and_none_left():
  assert sorted(pick_cluster_positives("a", _anchor(), ["m1", "a"], k=5, seed=0)) == ["m1"]
  assert pick_cluster_positives("a", _anchor(["m1"]), ["a", "m1"], k=3, seed=0) == []


def test_the_seed_changes_the_choice_but_not_the_set_when_all_fit():
  members = [f"m{i}" for i in range(20)]
  picks = {tuple(pick_cluster_positives("a", _anchor(), members, k=3, seed=s)) for s in range(5)}
  assert len(picks) > 1
  assert sorted(pick_cluster_positives("a", _anchor(), members, k=20, seed=1)) == sorted(members)
