"""Which rounds become the levels, and the warnings when a level means little.

`--first_round` / `--target_l0_size` choose the L0 round; `level_stats` flag a
level that collapsed (its largest cluster holds over half the items) or whose
round changed nothing; both engines write the same bytes.
"""


import pytest

from pipelines.clustering import choose_first_round
from tests.pipelines.clustering import graphs

# Max linkage, hand-computed: round 1 merges the pairs A={a1,a2}, B, C, D (weight
# 10); round 2: A-B (3) mutual, C's best is D (2.5 > 2), so {A,B}, {C,D};
# round 3: one cluster. Mean sizes 2, 4, 8.
LINKAGE_GRAPH = ("a1,a2,10\nb1,b2,10\nc1,c2,10\nd1,d2,10\n"
                 "a1,b1,3\na1,c1,2\na2,c2,2\nc1,d1,2.5\n")
# Unweighted: a star of 5 and two pairs. Round 1 puts the star in one cluster
# (5 of 9 items) and leaves no edge, so rounds 2 and 3 change nothing.
UNWEIGHTED = "s,l1,1\ns,l2,1\ns,l3,1\ns,l4,1\np1,p2,1\nq1,q2,1\n"


def _cluster(tmp_path, name, edges, *flags):
  return graphs.run_cluster_command(tmp_path, name, edges, "--cluster_all_edges", *flags)


def test_choose_first_round():
  merged = [4, 2, 1]  # 8 items: clusters 4, 2, 1 (mean 2, 4, 8)
  assert choose_first_round(8, merged, 2, 0) == 2
  assert [choose_first_round(8, merged, 1, t) for t in (1, 2, 3, 4, 5, 8)] == [1, 1, 2, 2, 3, 3]
  assert choose_first_round(8, merged, 3, 2) == 3
  assert choose_first_round(8, merged + [0, 0], 1, 100) == 3  # never reached: growth stops
  assert choose_first_round(8, [0, 0], 1, 100) == 1


def test_first_round_shifts_the_levels(tmp_path):
  got, section, _ = _cluster(tmp_path, "k2", LINKAGE_GRAPH, "--engine=local",
                             "--first_round=2", "--levels=2")
  assert got == {x: ["l0-a1" if x[0] in "ab" else "l0-c1", "l1-a1"] for x in got}
  assert len(got) == 8 and section["l0_round"] == 2
  assert [(r["round"], r["clusters"], r["merged"]) for r in section["rounds_stats"]] == [
      (1, 4, 4), (2, 2, 2), (3, 1, 1)]
  assert [s["round"] for s in section["level_stats"]] == [2, 3]


@pytest.mark.parametrize("target,first", [(3, 2), (4, 2), (5, 3), (100, 3)])
def test_target_l0_size_picks_the_first_round_reaching_it(tmp_path, target, first):
  got, section, _ = _cluster(tmp_path, "t", LINKAGE_GRAPH, "--engine=local", "--levels=1",
                             f"--target_l0_size={target}", "--max_first_round=4")
  assert section["l0_round"] == first and section["rounds"] == 4
  assert len({reps[0] for reps in got.values()}) == {2: 2, 3: 1}[first]


def test_collapsed_and_unchanged_levels_are_flagged_and_logged(tmp_path, capsys):
  got, section, _ = _cluster(tmp_path, "u", UNWEIGHTED, "--engine=local")
  log = capsys.readouterr().err
  assert len({got[x][0] for x in ("s", "l1", "l2", "l3", "l4")}) == 1
  health = [(s["collapsed"], s["largest_share"], s["unchanged"]) for s in section["level_stats"]]
  assert health == [(True, 0.5556, False), (True, 0.5556, True), (True, 0.5556, True)]
  assert "level L0 collapsed: its largest cluster holds 5 of 9 items" in log
  assert "level L1 (round 2) changed nothing" in log
  _, section, _ = _cluster(tmp_path, "w", LINKAGE_GRAPH, "--engine=local", "--levels=2")
  assert [(s["collapsed"], s["unchanged"]) for s in section["level_stats"]] == [
      (False, False), (False, False)]


@pytest.mark.parametrize("edges,flags", [
    (LINKAGE_GRAPH, ["--first_round=2", "--levels=2"]),
    (LINKAGE_GRAPH, ["--target_l0_size=5", "--levels=2", "--max_first_round=3"]),
    (UNWEIGHTED, []),
])
def test_engines_write_the_same_bytes(tmp_path, edges, flags):
  _, _, local = _cluster(tmp_path, "local", edges, "--engine=local", *flags)
  _, _, beam = _cluster(tmp_path, "beam", edges, "--engine=beam", "--runner=FnApiRunner",
                        "--partitions=2", *flags)
  assert beam == local
