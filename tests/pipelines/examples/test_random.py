"""`gcml examples --kind=random` (CDML): uniform negatives, the exact cap."""

import os

import pytest
from scipy import stats

from pipelines.examples import stage as make_examples
from pipelines import split
from pipelines.examples import positives
from tests.pipelines.examples import worlds

RUNNER = ["--runner=FnApiRunner"]
NUM_ITEMS = 40


@pytest.fixture(scope="module", name="ring")
def _ring(tmp_path_factory):
  """40 train items (+1 test item), each linked to the next 10 around a ring."""
  root = str(tmp_path_factory.mktemp("ring"))
  ids = [worlds.named(f"r{i:02d}") for i in range(NUM_ITEMS)]
  test_item = worlds.named("rt", test=True)
  edges = {tuple(sorted((ids[i], ids[(i + k) % NUM_ITEMS]))): 1.0 + k
           for i in range(NUM_ITEMS) for k in range(1, 11)}
  edges[tuple(sorted((test_item, ids[0])))] = 3.0
  paths = {i: ("m", "s", "t") for i in ids}
  world = worlds.write_world(root, paths, edges, ids + [test_item])
  out = os.path.join(root, "out")
  section = make_examples.run([
      "--kind=random", f"--edges={world.edges_glob}", f"--features={world.features_glob}",
      f"--output_dir={out}", f"--modalities={worlds.MODALITIES}", "--positives_per_anchor=20",
      "--seed=3"] + RUNNER)
  return world, ids, section, worlds.triplet_tuples(worlds.read_triplets(out))


def test_random_triplets_are_well_formed(ring):
  world, ids, section, triplets = ring
  assert len(triplets) == NUM_ITEMS * 20 == section["triplets/total"] == section["triplets/random"]
  assert {t[3] for t in triplets} == {-1}
  for a, p, n, _ in triplets:
    assert p in world.neighbours(a)
    assert n not in (a, p)
    assert split.is_train(n) and n in ids
  assert "fallback/level_0_pool_empty" not in section


def test_random_negatives_are_uniform_chi_square(ring):
  _, ids, _, triplets = ring
  expected = dict.fromkeys(ids, 0.0)
  observed = dict.fromkeys(ids, 0)
  for a, p, n, _ in triplets:
    observed[n] += 1
    for x in ids:
      if x not in (a, p):
        expected[x] += 1.0 / (NUM_ITEMS - 2)
  result = stats.chisquare([observed[i] for i in ids], [expected[i] for i in ids])
  assert result.pvalue > 0.01, result


def test_num_triplets_keeps_exactly_the_smallest_slot_hashes(ring, tmp_path):
  world, _, _, everything = ring
  out = str(tmp_path / "capped")
  section = make_examples.run([
      "--kind=random", f"--edges={world.edges_glob}", f"--features={world.features_glob}",
      f"--output_dir={out}", f"--modalities={worlds.MODALITIES}", "--positives_per_anchor=20",
      "--seed=3", "--num_triplets=123", "--num_shards=2"] + RUNNER)
  triplets = worlds.triplet_tuples(worlds.read_triplets(out))
  assert len(triplets) == section["triplets/total"] == 123
  assert section["triplets/before_cap"] == NUM_ITEMS * 20
  smallest = sorted(positives.slot_hash(3, a, p) for a, p, _, _ in everything)[:123]
  assert sorted((a, p) for a, p, _, _ in triplets) == sorted((a, p) for _, a, p in smallest)
  # The cap does not change the negatives of the triplets it keeps.
  assert set(triplets) <= set(everything)
