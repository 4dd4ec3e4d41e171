"""Item content: per-modality feature vectors and YouTube-8M-style labels."""

import numpy as np

from pipelines.synth.world import World


def features_chunk(world: World, shard: int) -> tuple[np.ndarray, dict, list]:
  """The items of one shard: (indices, modality -> [k, dim] float32, labels)."""
  config = world.config
  lo = shard * config.items_per_shard
  hi = min(config.num_items, lo + config.items_per_shard)
  index = np.arange(lo, hi)
  rng = np.random.default_rng([config.seed, 2, shard])
  micro = world.group_of(index, 0)
  _, s, m = world.branching
  sub, topic = micro // m, micro // (s * m)
  zt, zs, zm = world.latent_groups
  own = rng.normal(0, 0.5, (len(index), config.latent_dim))
  vectors = {}
  for mod in config.modalities:
    a, b, c, d = world.visibility[mod.name]
    latent = a * zt[topic] + b * zs[sub] + c * zm[micro] + d * own
    x = latent.astype(np.float32) @ world.projections[mod.name]
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
