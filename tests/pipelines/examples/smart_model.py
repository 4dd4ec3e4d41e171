"""A brute-force model of the smart-negative rules, and a smart run on a hand-made world.

Shared by `test_smart.py` and `test_cluster_contrastive.py` (a module of
helpers, not tests). The world is `worlds.hand_world`'s: three levels.
"""

from pipelines.examples import stage as make_examples
from tests.pipelines.examples import worlds

RUNNER = ["--runner=FnApiRunner"]
LEVELS = 3


def true_pool(world, anchor, level):
  """The anchor's unbounded level-`level` negative pool, by DESIGN.md's rules."""
  p = world.paths[anchor]
  members = [m for m in world.paths if world.eligible(m)]
  if level == 0:
    return {m for m in members if world.paths[m][0] == p[0]} - {anchor} - world.neighbours(anchor)
  return {m for m in members
          if world.paths[m][level] == p[level] and world.paths[m][level - 1] != p[level - 1]}


def expected_level(world, anchor, start):
  """The first level from `start` up whose pool is non-empty, else -1 (random)."""
  for level in range(start, LEVELS):
    if true_pool(world, anchor, level):
      return level
  return -1


def usable_neighbours(world, anchor):
  """The anchor's neighbours that can be positives."""
  return {b for b in world.neighbours(anchor) if world.usable(b)}


def run_smart(world, out, *flags):
  """`gcml examples --kind=smart` on the world (Beam engine, 3 shards); its summary section."""
  return make_examples.run([
      "--kind=smart", f"--edges={world.edges_glob}", f"--features={world.features_glob}",
      f"--clusters={world.clusters_dir}", f"--output_dir={out}",
      f"--modalities={worlds.MODALITIES}", "--num_shards=3", *flags] + RUNNER)
