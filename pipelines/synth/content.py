"""Item content: per-modality feature vectors and YouTube-8M-style labels.

Two kinds of content:
* `dense`: a noisy random projection of the item's latent vector (topic +
  subtopic + micro-cluster + own parts, seen with per-modality strengths). In
  a graded world the own part is the item's position inside its
  micro-cluster, so items close in the graph are close in content too.
* `words`: sparse bag-of-words counts. Every topic, subtopic and
  micro-cluster has a short word list (Zipf-weighted); an item's tokens come
  from its own groups' lists and from a background distribution over the
  whole vocabulary (`word_mix`), and the counts are its feature values. In a
  graded world each micro-cluster word also has a position, and an item
  picks its micro-cluster words by their distance to its own position
  (kernel width WORD_WIDTH), so items that the graph links also share words.
"""

from typing import TYPE_CHECKING

import numpy as np

from pipelines.synth.config import POSITION_DIM, SynthConfig

if TYPE_CHECKING:
  from pipelines.synth.world import World

GROUP_WORDS = (60, 30, 15)  # word-list length of a topic, a subtopic, a micro-cluster
WORD_WIDTH = 0.5  # graded words: kernel width over word positions, in position units



def fixed_order_product(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
  """`rows @ matrix` (or, for a [n, k, m] matrix, each row times its own [k, m]) in one order.

  The terms are added one inner index at a time with numpy's elementwise
  multiply and add, each exactly rounded, so the result is the same on every
  CPU. A BLAS product (or `np.einsum`) picks its kernel, and with it the order
  of the additions, by the CPU's vector width: the same seed would give other
  feature bytes on an AVX-512 machine than on an AVX2 one.

  Args:
    rows: [n, k].
    matrix: [k, m], or [n, k, m] (one matrix per row).

  Returns:
    [n, m] in the common dtype of the inputs.
  """
  def term(j):
    return rows[:, j:j + 1] * (matrix[j] if matrix.ndim == 2 else matrix[:, j, :])
  out = term(0)
  for j in range(1, rows.shape[1]):
    out += term(j)
  return out

def _zipf_cum(n: int) -> np.ndarray:
  """Cumulative Zipf(1) probabilities of ranks 0..n-1, last entry exactly 1."""
  p = 1.0 / np.arange(1, n + 1)
  cum = np.cumsum(p / p.sum())
  cum[-1] = 1.0
  return cum


def make_word_lists(config: SynthConfig, num_groups: tuple) -> dict:
  """Draws every group's word list, per modality (its size is the vocabulary).

  Args:
    config: the world's config (seed, modalities).
    num_groups: (topics, subtopics, micro-clusters) in the world.

  Returns:
    modality name -> (topic [T, k0], subtopic [T*S, k1], micro [M, k2]) word
    ids (int32, distinct within a list), the vocabulary in background
    frequency order, and the positions of the micro words [M, k2, POSITION_DIM].
  """
  lists = {}
  for k, mod in enumerate(config.modalities):
    rng = np.random.default_rng([config.seed, 4, k])
    per_level = []
    for groups, length in zip(num_groups, GROUP_WORDS):
      length = min(length, mod.dim)
      # Each row: the `length` smallest of fresh random keys, i.e. distinct
      # words, drawn in blocks of groups to bound memory.
      rows = []
      for start in range(0, groups, 512):
        keys = rng.random((min(512, groups - start), mod.dim))
        rows.append(np.argsort(keys, axis=1)[:, :length].astype(np.int32))
      per_level.append(np.concatenate(rows))
    background = rng.permutation(mod.dim).astype(np.int32)
    # Positions of the micro-cluster words (used by graded worlds only).
    where = rng.normal(0, 1.0, (*per_level[2].shape, POSITION_DIM)).astype(np.float32)
    lists[mod.name] = (tuple(per_level), background, where)
  return lists


def _near_words(positions: np.ndarray, word_where: np.ndarray, owner: np.ndarray,
                u: np.ndarray) -> np.ndarray:
  """Ranks of micro-cluster words, drawn by their distance to the item's position.

  Args:
    positions: [k, POSITION_DIM] the items' positions.
    word_where: [k, K, POSITION_DIM] the positions of each item's micro-cluster words.
    owner: [T] the item of each token.
    u: [T] uniform draws.

  Returns:
    [T] the rank of each token's word in its micro-cluster's list.
  """
  d2 = np.sum((positions[:, None, :] - word_where) ** 2, axis=2)
  p = np.exp(-d2 / (2 * WORD_WIDTH ** 2)) + 1e-12
  cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
  cum[:, -1] = 1.0
  # One sorted array for all rows: row r's cumulative weights live in (r, r+1].
  flat = (cum + np.arange(len(cum))[:, None]).ravel()
  return np.searchsorted(flat, owner + u, side="right") - owner * cum.shape[1]


def _word_counts(world: "World", rng, mod, groups: tuple, positions) -> np.ndarray:
  """Bag-of-words counts [k, vocabulary] (float32) for items in `groups`.

  Args:
    world: the world (word lists, config).
    rng: the shard's generator.
    mod: the modality (its size is the vocabulary).
    groups: (topic, subtopic, micro) index of each item.
    positions: [k, POSITION_DIM] item positions in a graded world, else None.

  Returns:
    The counts, float32.
  """
  config = world.config
  (level_lists, background, where), k = world.word_lists[mod.name], len(groups[0])
  tokens = 1 + rng.poisson(config.words_per_item - 1, k)
  owner = np.repeat(np.arange(k), tokens)
  source = rng.choice(4, size=len(owner), p=np.asarray(config.word_mix))
  u = rng.random(len(owner))
  word = np.empty(len(owner), np.int64)
  for level in range(4):
    rows = np.nonzero(source == level)[0]
    if level == 3:
      word[rows] = background[np.searchsorted(_zipf_cum(mod.dim), u[rows], side="right")]
      continue
    table = level_lists[level]
    if level == 2 and positions is not None:
      rank = _near_words(positions, where[groups[2]], owner[rows], u[rows])
    else:
      rank = np.searchsorted(_zipf_cum(table.shape[1]), u[rows], side="right")
    word[rows] = table[groups[level][owner[rows]], np.minimum(rank, table.shape[1] - 1)]
  counts = np.zeros((k, mod.dim), np.float32)
  np.add.at(counts, (owner, word), 1.0)
  return counts


def features_chunk(world: "World", shard: int) -> tuple[np.ndarray, dict, list]:
  """The items of one shard.

  Args:
    world: the world.
    shard: which shard of `items_per_shard` items.

  Returns:
    (item indices, modality -> [k, dim] float32, labels per item).
  """
  config = world.config
  lo = shard * config.items_per_shard
  hi = min(config.num_items, lo + config.items_per_shard)
  index = np.arange(lo, hi)
  rng = np.random.default_rng([config.seed, 2, shard])
  micro = world.group_of(index, 0)
  _, s, m = world.branching
  sub, topic = micro // m, micro // (s * m)
  zt, zs, zm = world.latent_groups
  own = rng.normal(0, config.item_spread, (len(index), config.latent_dim))
  if world.positions is not None:
    # Graded: the own part is the position (drawn above anyway, so the draws
    # that follow stay where they were).
    own = config.item_spread * fixed_order_product(
        world.positions[index], world.position_basis[micro]).astype(np.float64)
  vectors = {}
  for mod in config.modalities:
    if config.content == "words":
      positions = None if world.positions is None else world.positions[index]
      vectors[mod.name] = _word_counts(world, rng, mod, (topic, sub, micro), positions)
      continue
    a, b, c, d = world.visibility[mod.name]
    latent = a * zt[topic] + b * zs[sub] + c * zm[micro] + d * own
    x = fixed_order_product(latent.astype(np.float32), world.projections[mod.name])
    noise = rng.normal(0, config.feature_noise * float(np.std(x)) + 1e-6, x.shape)
    vectors[mod.name] = (x + noise).astype(np.float32)
  num_topics = world.branching[0]
  extra = rng.integers(0, num_topics * (1 + s), len(index))
  has_sub, has_extra = rng.random(len(index)) < 0.7, rng.random(len(index)) < 0.1
  labels = []
  for i in range(len(index)):
    row = {int(topic[i])}
    if has_sub[i]:
      row.add(num_topics + int(sub[i]))
    if has_extra[i]:
      row.add(int(extra[i]))
    labels.append(sorted(row))
  return index, vectors, labels
