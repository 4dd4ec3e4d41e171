"""`gcml examples --kind=smart` end to end on a hand-made three-level hierarchy.

Every triplet is checked against a brute-force model of DESIGN.md's rules:
the negative lies in the anchor's level-l cluster and outside its
level-(l-1) cluster (at level 0: not the anchor, not a neighbour), and the
level is the first level, from the requested one up, whose (true, unbounded)
pool is non-empty, else random (-1). The fall-back counters must equal the
model's counts exactly.
"""

import os

import numpy as np
import pytest

from pipelines import split
from pipelines.examples import reservoirs
from tests.pipelines.examples import worlds
from tests.pipelines.examples.smart_model import (LEVELS, expected_level, run_smart, true_pool,
                                                  usable_neighbours)


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  return worlds.hand_world(str(tmp_path_factory.mktemp("hand")))


@pytest.fixture(scope="module", name="runs")
def _runs(world):
  runs = {}
  for level in range(LEVELS):
    out = os.path.join(world.root, f"out-l{level}")
    section = run_smart(world, out, f"--level={level}")
    runs[level] = (out, section, worlds.triplet_tuples(worlds.read_triplets(out)))
  return runs


@pytest.mark.parametrize("level", [0, 1, 2])
def test_negatives_follow_the_hierarchy(world, runs, level):
  _, section, triplets = runs[level]
  assert triplets
  anchors = {a for a, _, _, _ in triplets}
  expected_anchors = {a for a in world.paths if world.eligible(a) and usable_neighbours(world, a)}
  assert anchors == expected_anchors
  for a, p, n, got in triplets:
    assert p in world.neighbours(a), "a positive is always a graph neighbour"
    assert got == expected_level(world, a, level), (a, got)
    if got >= 0:
      pa, pn = world.paths[a], world.paths[n]
      assert pn[got] == pa[got], "negative inside the anchor's level-l cluster"
      assert n != a and n not in world.neighbours(a), "never the anchor or a graph neighbour"
      if got > 0:
        assert pn[got - 1] != pa[got - 1], "negative outside the anchor's level-(l-1) cluster"
      assert world.eligible(n)
    else:
      assert n not in (a, p) and world.usable(n)
  assert section["triplets/total"] == len(triplets)


@pytest.mark.parametrize("level", [0, 1, 2])
def test_fallbacks_exactly_when_pool_empty_and_counted(world, runs, level):
  _, section, triplets = runs[level]
  expected = {}
  for a in {t[0] for t in triplets}:
    n = len(usable_neighbours(world, a))
    for lv in range(level, LEVELS):
      if true_pool(world, a, lv):
        break
      expected[f"fallback/level_{lv}_pool_empty"] = (
          expected.get(f"fallback/level_{lv}_pool_empty", 0) + n)
  got = {k: v for k, v in section.items() if k.startswith("fallback/")}
  assert got == expected
  by_level = {}
  for t in triplets:
    name = "triplets/random" if t[3] < 0 else f"triplets/level_{t[3]}"
    by_level[name] = by_level.get(name, 0) + 1
  assert {k: v for k, v in section.items() if k.startswith("triplets/level") or
          k == "triplets/random"} == by_level
  assert by_level.get("triplets/random"), "T1 has one child only: its anchors end at random"


def test_positives_are_all_usable_neighbours_and_split_is_respected(world, runs):
  _, section, triplets = runs[0]
  pairs = {(a, p) for a, p, _, _ in triplets}
  expected = {(a, b) for a in world.paths if world.eligible(a)
              for b in usable_neighbours(world, a)}
  assert pairs == expected  # positives_per_anchor=5 >= every degree here
  names = world.names
  every_id = {x for t in triplets for x in t[:3]}
  assert names["t0"] not in every_id and names["f0"] not in every_id
  assert all(split.is_train(i) for i in every_id)
  assert names["e0"] in {p for _, p, _, _ in triplets}  # no table row: positive only
  assert names["e0"] not in {a for a, _, _, _ in triplets}
  assert section["items/assigned_without_features"] == 1  # f0
  assert section["items/train_without_cluster"] == 1  # e0
  assert section["edges/touching_test"] == 2
  assert section["edges/endpoint_without_features"] == 1  # f0-a1
  assert section["items/test_with_features"] == 1
  assert "skipped/missing_features" not in section


def test_records_parse_with_tensorflow_and_carry_the_input_features(world, runs):
  import tensorflow as tf
  out, _, _ = runs[1]
  paths = sorted(p for p in os.listdir(out) if p.startswith("triplets-"))
  assert len(paths) == 3
  spec = {"level": tf.io.FixedLenFeature([], tf.int64)}
  for role in ("anchor", "positive", "negative"):
    spec[f"{role}/id"] = tf.io.FixedLenFeature([], tf.string)
    for name, dim in worlds.DIMS.items():
      spec[f"{role}/{name}"] = tf.io.FixedLenFeature([dim], tf.float32)
  records = list(worlds.files.read_tfrecords([os.path.join(out, p) for p in paths]))
  parsed = tf.io.parse_example(tf.constant(records), spec)
  for i in range(len(records)):
    for role in ("anchor", "positive", "negative"):
      item_id = parsed[f"{role}/id"][i].numpy().decode()
      for name in worlds.DIMS:
        np.testing.assert_array_equal(parsed[f"{role}/{name}"][i].numpy(),
                                      world.features[item_id][name])
  assert set(parsed["level"].numpy().tolist()) <= {-1, 1, 2}


def test_reservoir_miss_is_counted_apart_from_empty_pools(world, tmp_path):
  # With 2 members kept per cluster, find a seed where some anchor's
  # reservoir holds only itself and its neighbours while its pool is not empty.
  def members_kept(seed, micro):
    members = sorted((reservoirs.member_hash(seed, 0, m), m) for m in world.paths
                     if world.eligible(m) and world.paths[m][0] == micro)
    return {m for _, m in members[:2]}

  def misses(seed):
    out = {}
    for a in world.paths:
      if not (world.eligible(a) and usable_neighbours(world, a)) or not true_pool(world, a, 0):
        continue
      kept = members_kept(seed, world.paths[a][0]) - {a} - world.neighbours(a)
      if not kept:
        out[a] = len(usable_neighbours(world, a))
    return out

  seed = next(s for s in range(200) if misses(s))
  section = run_smart(world, str(tmp_path / "out"), "--level=0", "--reservoir_size=2",
                      f"--seed={seed}")
  assert section["fallback/level_0_reservoir_miss"] == sum(misses(seed).values())
  empty = sum(len(usable_neighbours(world, a)) for a in world.paths
              if world.eligible(a) and usable_neighbours(world, a) and not true_pool(world, a, 0))
  assert section["fallback/level_0_pool_empty"] == empty
  triplets = worlds.triplet_tuples(worlds.read_triplets(str(tmp_path / "out")))
  for a, _, n, level in triplets:
    if a in misses(seed):
      assert level >= 1
    if level == 0:
      assert n in members_kept(seed, world.paths[a][0])


def test_same_bytes_for_one_and_two_workers(world, runs, tmp_path):
  out1, _, _ = runs[0]
  out2 = str(tmp_path / "two")
  run_smart(world, out2, "--level=0", "--direct_num_workers=2",
            "--direct_running_mode=multi_threading")
  first, second = worlds.output_bytes(out1), worlds.output_bytes(out2)
  assert sorted(first) == sorted(second)
  assert first == second


def test_splitting_hot_keys_does_not_change_the_bytes(world, runs, tmp_path):
  out = str(tmp_path / "hot")
  run_smart(world, out, "--level=0", "--hot_threshold=1")  # every join key with 2+ records split
  assert worlds.output_bytes(out) == worlds.output_bytes(runs[0][0])


def test_seed_changes_the_sample(world, runs, tmp_path):
  out = str(tmp_path / "seed")
  run_smart(world, out, "--level=0", "--seed=7")
  assert (worlds.triplet_tuples(worlds.read_triplets(out))
          != worlds.triplet_tuples(worlds.read_triplets(runs[0][0])))


def test_a_pool_of_neighbours_only_falls_back_to_random_and_is_counted(tmp_path):
  """x0's level-1 pool is {y0}, its neighbour: every draw is refused, x0 goes random.

  M0 = {x0, x1}, M1 = {y0} under S0; M2 = {z0, z1, z2} under S1 (a second top
  cluster keeps the level-2 pools of x0 empty). Edges x0-x1, x0-y0, z0-z1.
  """
  n = {name: worlds.named(name) for name in "x0 x1 y0 z0 z1 z2".split()}
  paths = {n["x0"]: ("M0", "S0"), n["x1"]: ("M0", "S0"), n["y0"]: ("M1", "S0"),
           n["z0"]: ("M2", "S1"), n["z1"]: ("M2", "S1"), n["z2"]: ("M2", "S1")}
  edges = {tuple(sorted((n[a], n[b]))): 1.0 for a, b in (("x0", "x1"), ("x0", "y0"),
                                                         ("z0", "z1"))}
  world = worlds.write_world(str(tmp_path), paths, edges, list(n.values()))
  out = str(tmp_path / "out")
  section = run_smart(world, out, "--level=1", "--negative_draws=3")
  triplets = worlds.triplet_tuples(worlds.read_triplets(out))
  from_x0 = [t for t in triplets if t[0] == n["x0"]]
  assert len(from_x0) == 2 and all(t[3] == -1 for t in from_x0)
  # y0's pool {x0, x1} holds its neighbour x0: y0 always gets x1.
  assert [(t[2], t[3]) for t in triplets if t[0] == n["y0"]] == [(n["x1"], 1)]
  assert section["fallback/level_1_draws_all_neighbours"] == 2
  assert section["negatives/neighbour_draws_skipped"] >= 2 * 3
  for a, _, neg, level in triplets:
    if level >= 0:
      assert neg not in world.neighbours(a)


def test_random_fraction_mixes_seeded_random_negatives_into_smart_triplets(world, runs, tmp_path):
  from pipelines import hashing  # pylint: disable=import-outside-toplevel
  _, plain_section, plain = runs[0]
  out = str(tmp_path / "mixed")
  section = run_smart(world, out, "--level=0", "--random_fraction=0.5")
  mixed = worlds.triplet_tuples(worlds.read_triplets(out))
  chosen = {(a, p) for a, p, _, _ in plain if hashing.uniform(0, "mix_random", a, p) < 0.5}
  assert 0 < len(chosen) < len(plain)
  assert section["triplets/mixed_random"] == len(chosen)
  assert sorted((a, p) for a, p, _, _ in mixed) == sorted((a, p) for a, p, _, _ in plain)
  for a, p, n, level in mixed:
    if (a, p) in chosen:
      assert level == -1 and n not in (a, p)
  # Slots not chosen keep exactly the negatives they get without mixing.
  assert ({t for t in mixed if (t[0], t[1]) not in chosen} ==
          {t for t in plain if (t[0], t[1]) not in chosen})
  assert section["triplets/total"] == plain_section["triplets/total"]


def test_all_levels_is_the_union_of_the_per_level_runs(world, runs, tmp_path):
  out = str(tmp_path / "all")
  section = run_smart(world, out, "--all_levels")
  got = worlds.triplet_tuples(worlds.read_triplets(out))
  union = set().union(*(set(runs[level][2]) for level in range(LEVELS)))
  assert len(got) == len(set(got)) == len(union)
  assert set(got) == union
  assert section["triplets/total"] == len(union)
  assert section["triplets/duplicates_merged"] == sum(len(runs[lv][2]) for lv in range(LEVELS)) - len(union)
