"""The world model: planted hierarchy, item popularity and the edges between items.

Everything here is derived from the seed alone; `edge_chunk` draws one shard's
edges from its own seeded generator, so shards can be drawn in any order and
any process. The parts that only some worlds have (positions inside the
micro-clusters, word lists) come from generators of their own, so a world
without them draws exactly what it always drew.
"""

import dataclasses
import math

import numpy as np

from pipelines.errors import InputError
from pipelines.synth import content
from pipelines.synth.config import POSITION_DIM, SynthConfig

LEVELS = ("micro", "subtopic", "topic", "noise")
GRADED_BLOCK_CELLS = 1 << 20  # graded partners: about (rows x cluster size) per block


@dataclasses.dataclass
class World:
  """The planted structure, derived from the seed alone (small: O(items))."""
  config: SynthConfig
  micro_bounds: np.ndarray  # [num_micro + 1] start index of each micro-cluster
  popularity_cum: np.ndarray  # [num_items + 1] cumulative popularity (float64)
  public_ids: np.ndarray  # [num_items] item index -> public integer id
  latent_groups: tuple  # (topic [T,L], subtopic [T*S,L], micro [T*S*M,L])
  projections: dict  # modality -> [L, dim] (float32)
  visibility: dict  # modality -> (topic, subtopic, micro, item) weights
  positions: np.ndarray | None = None  # graded: [num_items, POSITION_DIM] float32
  position_basis: np.ndarray | None = None  # graded: [num_micro, POSITION_DIM, L] float32
  word_lists: dict | None = None  # words: modality -> content.make_word_lists()'s entry

  @property
  def branching(self):
    _, s, m = self.config.branching
    return self.config.topics(), s, m

  def group_bounds(self, level: int) -> np.ndarray:
    """Start indices of the groups at a level: 0 micro, 1 subtopic, 2 topic."""
    _, s, m = self.branching
    step = (1, m, s * m)[level]
    return self.micro_bounds[::step]

  def group_of(self, index: np.ndarray, level: int) -> np.ndarray:
    return np.searchsorted(self.group_bounds(level), index, side="right") - 1


def make_world(config: SynthConfig) -> World:
  """Draws the planted structure of a world from its config and seed.

  Args:
    config: what to generate.

  Returns:
    The world: hierarchy bounds, popularity, public ids, latent vectors and,
    where the config asks for them, positions and word lists.
  """
  config.validate()
  rng = np.random.default_rng([config.seed, 0])
  t, s, m = config.topics(), config.branching[1], config.branching[2]
  num_micro = t * s * m
  if config.num_items < 2 * num_micro:
    raise InputError(f"{config.num_items} items are too few for {num_micro} micro-clusters "
                     f"(branching {t},{s},{m}); lower --branching or raise --num_items")
  sizes = rng.lognormal(0.0, 0.5, num_micro)
  sizes = 2 + np.floor(sizes / sizes.sum() * (config.num_items - 2 * num_micro)).astype(np.int64)
  sizes[: config.num_items - sizes.sum()] += 1
  bounds = np.concatenate([[0], np.cumsum(sizes)])
  popularity = (rng.pareto(config.popularity_alpha, config.num_items) + 1.0)
  cum = np.concatenate([[0.0], np.cumsum(popularity)])
  ids = rng.permutation(config.num_items)
  dim = config.latent_dim
  groups = (rng.normal(0, 1.0, (t, dim)), rng.normal(0, 0.8, (t * s, dim)),
            rng.normal(0, 0.6, (num_micro, dim)))
  projections, visibility = {}, {}
  for k, mod in enumerate(config.modalities):
    projections[mod.name] = (rng.normal(0, 1.0 / math.sqrt(dim), (dim, mod.dim))
                             .astype(np.float32))
    # The first modality sees every part of the latent; the others see mostly
    # topic and subtopic, as audio does for video.
    visibility[mod.name] = (1.0, 1.0, 0.8, 0.5) if k == 0 else (1.0, 0.7, 0.2, 0.3)
  world = World(config, bounds, cum, ids, groups, projections, visibility)
  if config.relatedness == "graded":
    extra = np.random.default_rng([config.seed, 3])
    world.positions = extra.normal(0, 1.0, (config.num_items, POSITION_DIM)).astype(np.float32)
    world.position_basis = extra.normal(0, 1.0 / math.sqrt(POSITION_DIM),
                                        (num_micro, POSITION_DIM, dim)).astype(np.float32)
  if config.content == "words":
    world.word_lists = content.make_word_lists(config, (t, t * s, num_micro))
  return world


def _sample_in_ranges(rng, cum, lo, hi, skip_lo=None, skip_hi=None):
  """Samples one index per row in [lo, hi) minus [skip_lo, skip_hi), by popularity."""
  total = cum[hi] - cum[lo]
  if skip_lo is not None:
    hole = cum[skip_hi] - cum[skip_lo]
    u = rng.random(len(lo)) * (total - hole)
    u = np.where(u >= cum[skip_lo] - cum[lo], u + hole, u)
  else:
    u = rng.random(len(lo)) * total
  idx = np.searchsorted(cum, cum[lo] + u, side="right") - 1
  return np.clip(idx, lo, hi - 1)


def _graded_partners(world: World, rng, src: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Partners inside each source's micro-cluster, by popularity x distance kernel.

  The partner j of source i is drawn exactly with probability proportional
  to popularity(j) * exp(-d^2 / 2w^2), d the distance of the two positions
  and w `graded_width`, over the other members of i's micro-cluster. Rows
  are done in blocks of similar cluster size, each padded to its largest.

  Returns:
    (partner index, squared position distance) per source.
  """
  b = world.group_bounds(0)
  g = world.group_of(src, 0)
  lo, size = b[g], b[g + 1] - b[g]
  popularity = np.diff(world.popularity_cum)
  u = rng.random(len(src))
  two_w2 = 2.0 * world.config.graded_width ** 2
  dst = np.empty_like(src)
  # Rows in order of cluster size, so that a block pads to little more than its own sizes.
  order = np.argsort(size, kind="stable")
  sorted_size = size[order]
  start = 0
  while start < len(order):
    # The longest run of rows whose (row count x largest size) fits the budget.
    cells = np.arange(1, len(order) - start + 1) * sorted_size[start:]
    rows = order[start:start + max(1, int(np.searchsorted(cells, GRADED_BLOCK_CELLS, "right")))]
    width = int(size[rows[-1]])
    valid = np.arange(width) < size[rows, None]
    members = np.where(valid, lo[rows, None] + np.arange(width), lo[rows, None])
    d2 = np.sum((world.positions[members] - world.positions[src[rows], None, :]) ** 2, axis=2)
    weight = popularity[members] * np.exp(-d2 / two_w2) * (valid & (members != src[rows, None]))
    cum = np.cumsum(weight, axis=1)
    pick = np.sum(cum < (u[rows] * cum[:, -1])[:, None], axis=1)
    dst[rows] = members[np.arange(len(rows)), np.minimum(pick, width - 1)]
    start += len(rows)
  d2 = np.sum((world.positions[src] - world.positions[dst]) ** 2, axis=1)
  return dst, d2


def edge_chunk(world: World, shard: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
  """Draws the edges of one shard: (src index, dst index, weight, level).

  Args:
    world: the World.
    shard: the shard.

  Returns:
    (src index, dst index, weight, level) arrays.
  """
  config = world.config
  per = config.num_edges // config.num_shards
  count = per + (config.num_edges % config.num_shards if shard == config.num_shards - 1 else 0)
  rng = np.random.default_rng([config.seed, 1, shard])
  cum = world.popularity_cum
  n = config.num_items
  src = np.searchsorted(cum, rng.random(count) * cum[-1], side="right") - 1
  src = np.clip(src, 0, n - 1)
  level = rng.choice(4, size=count, p=np.asarray(config.level_mix))
  dst = np.empty(count, np.int64)
  graded_d2 = None
  for lv in range(4):
    rows = np.nonzero(level == lv)[0]
    if not len(rows):
      continue
    s = src[rows]
    if lv == 3:  # anywhere outside the source's topic
      b = world.group_bounds(2)
      g = world.group_of(s, 2)
      lo, hi = np.zeros_like(s), np.full_like(s, n)
      dst[rows] = _sample_in_ranges(rng, cum, lo, hi, b[g], b[g + 1])
      continue
    b = world.group_bounds(lv)
    g = world.group_of(s, lv)
    if lv == 0 and world.positions is not None:
      dst[rows], d2 = _graded_partners(world, rng, s)
      graded_d2 = (rows, d2)
    elif lv == 0:
      dst[rows] = _sample_in_ranges(rng, cum, b[g], b[g + 1])
    else:
      inner = world.group_bounds(lv - 1)
      gi = world.group_of(s, lv - 1)
      dst[rows] = _sample_in_ranges(rng, cum, b[g], b[g + 1], inner[gi], inner[gi + 1])
  # A self-loop becomes an edge to the next item of the same micro-cluster.
  loops = dst == src
  if loops.any():
    b = world.group_bounds(0)
    g = world.group_of(src[loops], 0)
    nxt = src[loops] + 1
    dst[loops] = np.where(nxt < b[g + 1], nxt, b[g])
  if config.unit_weights:
    return src, dst, np.ones(count), level
  base = np.asarray(config.level_weight)[level]
  if graded_d2 is not None:
    # The weight falls with distance too, on a kernel twice as wide.
    rows, d2 = graded_d2
    base = base.copy()
    base[rows] *= np.exp(-d2 / (8.0 * config.graded_width ** 2))
  weight = np.round(base * rng.lognormal(0.0, config.weight_noise, count), 3)
  weight = np.maximum(weight, 0.001)
  return src, dst, weight, level


def id_strings(world: World, index: np.ndarray) -> list[str]:
  """
  Args:
    world: the World.
    index: item indices.

  Returns:
    Their public ids.
  """
  width = len(str(world.config.num_items - 1))
  return [f"v{k:0{width}d}" for k in world.public_ids[index].tolist()]
