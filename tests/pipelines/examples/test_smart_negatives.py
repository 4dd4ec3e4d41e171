"""pipelines/examples/smart_negatives.py: the rules both engines apply, on hand-built samples."""

from pipelines import hashing
from pipelines.examples import smart_negatives
from pipelines.examples.items import ItemInfo
from pipelines.examples.positives import Anchor
from pipelines.examples.reservoirs import Child, MemberSample, ParentSample


def _anchor(nbr0=0, path=("c0", "c1")):
  return Anchor(ItemInfo("a", 0, path), (("p", 1),), 1, nbr0, ())


def test_level0_pool_counts_the_whole_cluster_not_its_reservoir():
  assert smart_negatives.level0_pool_empty(_anchor(), None)
  assert smart_negatives.level0_pool_empty(_anchor(nbr0=2), MemberSample(3, ("a", "b")))
  assert not smart_negatives.level0_pool_empty(_anchor(nbr0=1), MemberSample(3, ("a",)))


def test_upper_pool_needs_two_children():
  assert smart_negatives.upper_pool_empty(None)
  assert smart_negatives.upper_pool_empty(ParentSample(1, (Child("c0", 4, ("a",)),)))
  assert not smart_negatives.upper_pool_empty(ParentSample(2, ()))


def test_reservoir_negative_picks_among_the_positions_not_skipped():
  members = ("a", "b", "c", "d", "e")  # skipping 1 and 3 leaves a, c, e
  assert smart_negatives.reservoir_negative(members, {3, 1}, 0.1) == "a"  # int(0.3) = 0
  assert smart_negatives.reservoir_negative(members, {3, 1}, 0.5) == "c"  # int(1.5) = 1
  assert smart_negatives.reservoir_negative(members, {3, 1}, 0.99) == "e"  # int(2.97) = 2
  assert smart_negatives.reservoir_negative(members, set(range(5)), 0.5) is None


def test_reservoir_negative_is_the_pick_in_the_built_pool():
  members = tuple(f"m{i}" for i in range(9))
  skip = {0, 4, 5}
  pool = [m for i, m in enumerate(members) if i not in skip]
  for positive in ("p0", "p1", "p2", "p3"):
    u = hashing.uniform(7, "negative", 0, "a", positive)
    assert smart_negatives.reservoir_negative(members, skip, u) == pool[
        hashing.pick(len(pool), 7, "negative", 0, "a", positive)]


def test_sibling_children_leave_out_the_anchors_own_child():
  sample = ParentSample(3, (Child("c0", 4, ("a",)), Child("x", 2, ("x1",)),
                            Child("y", 6, ("y1",))))
  siblings, total = smart_negatives.sibling_children(_anchor(), sample, 1)
  assert [c.id for c in siblings] == ["x", "y"] and total == 8


def test_sibling_member_draws_a_child_by_size_then_a_member():
  siblings = [Child("x", 2, ("x1", "x2")), Child("y", 6, ("y1", "y2", "y3"))]
  # 0.2 * 8 = 1.6 falls in x's [0, 2); member int(0.6 * 2) = 1.
  assert smart_negatives.sibling_member(siblings, 8, 0.2, 0.6) == "x2"
  # 0.25 * 8 = 2.0 is past x; member int(0.5 * 3) = 1.
  assert smart_negatives.sibling_member(siblings, 8, 0.25, 0.5) == "y2"
