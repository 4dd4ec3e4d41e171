"""Hand-made graphs with known answers, checked on both engines.

All the small graphs run as one disjoint union (clustering never crosses a
component), so the Beam engine is started once per configuration.
"""

import pytest

from pipelines.clustering import tie_hash
from tests.pipelines.clustering import graphs

MIN_WEIGHT = 1.5


def _tie_path():
  """ta-tb-tc-td, all weight 2: tb and tc break their ties by hash."""
  return [("ta", "tb", 2.0), ("tb", "tc", 2.0), ("tc", "td", 2.0)]


def _tie_answer(seed):
  b_best = graphs.smaller_hash(seed, "ta", "tc")
  c_best = graphs.smaller_hash(seed, "tb", "td")
  if b_best == "ta" and c_best == "td":
    l0 = {"ta": "ta", "tb": "ta", "tc": "tc", "td": "tc"}
  elif b_best == "tc" and c_best == "tb":
    l0 = dict.fromkeys(("ta", "tb", "tc", "td"), "tb")
  else:  # one mutual pair at an end, the rest hangs on it
    root = "ta" if b_best == "ta" else "tc"
    l0 = dict.fromkeys(("ta", "tb", "tc", "td"), root)
  top = min(set(l0.values()))
  return {x: (l0[x], top, top) for x in l0}


def _union(seed):
  """(edges, expected assignments) of several small graphs side by side."""
  edges, expected = list(_tie_path()), _tie_answer(seed)
  chain, names = graphs.chain(40, "k")
  edges += [(a, b, w + 1) for a, b, w in chain]  # every weight above MIN_WEIGHT
  expected.update({x: ("k000038",) * 3 for x in names})  # the mutual pair is the last edge
  hub_edges = [("s_hub", f"s_l{i:02d}", float(i + 2)) for i in range(30)]
  edges += hub_edges
  expected.update({x: ("s_hub",) * 3 for x in ["s_hub"] + [b for _, b, _ in hub_edges]})
  edges += [("p_a", "p_b", 5.0), ("p_c", "p_d", 5.0), ("p_b", "p_c", 2.0)]
  expected.update({"p_a": ("p_a", "p_a", "p_a"), "p_b": ("p_a", "p_a", "p_a"),
                   "p_c": ("p_c", "p_a", "p_a"), "p_d": ("p_c", "p_a", "p_a")})
  edges += [("d_a", "d_b", 3.0), ("d_b", "d_c", 2.0), ("d_a", "d_c", 1.6),
            ("e_x", "e_y", 3.0), ("e_y", "e_z", 2.0)]
  expected.update({x: ("d_a",) * 3 for x in ("d_a", "d_b", "d_c")})
  expected.update({x: ("e_x",) * 3 for x in ("e_x", "e_y", "e_z")})
  edges += [("i_a", "i_b", 1.0), ("u_a", "u_b", 5.0), ("u_b", "u_c", 1.0)]  # under MIN_WEIGHT
  expected.update({"i_a": ("i_a",) * 3, "i_b": ("i_b",) * 3, "u_c": ("u_c",) * 3,
                   "u_a": ("u_a",) * 3, "u_b": ("u_a",) * 3})
  return edges, expected


def _seeds_with_both_tie_outcomes():
  two, one = None, None
  for seed in range(500):
    clusters = len(set(v[0] for v in _tie_answer(seed).values()))
    two = seed if clusters == 2 and two is None else two
    one = seed if clusters == 1 and one is None else one
  assert two is not None and one is not None
  return two, one


@pytest.mark.parametrize("seed", _seeds_with_both_tie_outcomes())
def test_known_answers_local(seed):
  edges, expected = _union(seed)
  got = graphs.local_assignments(edges, seed=seed, min_weight=MIN_WEIGHT)
  assert got == expected


def test_known_answers_beam():
  seed = _seeds_with_both_tie_outcomes()[0]
  edges, expected = _union(seed)
  graphs.beam_matches(edges, expected, seed=seed, min_weight=MIN_WEIGHT, partitions=2)


def test_tie_break_is_the_seeded_hash_not_input_order():
  edges = _tie_path()
  for seed in _seeds_with_both_tie_outcomes():
    answer = graphs.local_assignments(edges, seed=seed)
    assert graphs.local_assignments(list(reversed(edges)), seed=seed) == answer
    assert answer == _tie_answer(seed)
  assert tie_hash(0, "x") == tie_hash(0, "x") != tie_hash(1, "x")
  assert 0 <= tie_hash(7, "é") < 2 ** 64


def _linkage_graph():
  """L0 pairs A, B, C, D; at L1 max links A-B and C-D, sum and average link A-C."""
  pairs = [(f"{c}1", f"{c}2", 10.0) for c in "abcd"]
  between = [("a1", "b1", 3.0), ("a1", "c1", 2.0), ("a2", "c2", 2.0), ("c1", "d1", 2.5)]
  return pairs + between


@pytest.mark.parametrize("linkage,l1", [
    ("max", {"a": "a1", "b": "a1", "c": "c1", "d": "c1"}),
    ("sum", dict.fromkeys("abcd", "a1")),
    ("average", dict.fromkeys("abcd", "a1")),
])
def test_linkage_changes_level_1(linkage, l1):
  got = graphs.local_assignments(_linkage_graph(), levels=2, linkage=linkage)
  assert got == {x: (x[0] + "1", l1[x[0]]) for x in got}


def test_max_cluster_size_caps_every_cluster():
  edges = _linkage_graph() + graphs.chain(12, "z")[0]
  for cap in (2, 3, 4, 5):
    got = graphs.local_assignments(edges, levels=3, cap=cap)
    for level in range(3):
      sizes = {}
      for reps in got.values():
        sizes[reps[level]] = sizes.get(reps[level], 0) + 1
      assert max(sizes.values()) <= cap
  # Cap 1: nobody merges. Cap 4 on the chain: the component (12 > 4) is split,
  # only its mutual pair (the last edge) merges at L0.
  assert all(reps == (x, x, x) for x, reps in graphs.local_assignments(edges, cap=1).items())
  got = graphs.local_assignments(graphs.chain(12, "z")[0], levels=1, cap=4)
  assert got["z000010"] == got["z000011"] == ("z000010",)
  assert all(got[f"z{i:06d}"] == (f"z{i:06d}",) for i in range(10))


def test_max_cluster_size_same_on_beam():
  edges = _linkage_graph() + graphs.chain(12, "z")[0] + graphs.random_graph(3, 60, 150, False)
  expected = graphs.local_assignments(edges, cap=4, linkage="average", seed=5)
  graphs.beam_matches(edges, expected, cap=4, linkage="average", seed=5)
