"""Tiny synthetic training data shared by the trainer tests.

Items of `GROUPS` groups: each modality's features are the group's fixed centre plus noise, so
a model that learns the groups lowers the triplet loss. `tests/model/test_trainer.py` and the
tests of the trainer's parts (inputs, checkpoints, restart, samplers, strategies) train on it.
"""

import numpy as np

from model.config import EmbeddingModelConfig, ModalityConfig
from pipelines.io import tf_example

MODS = (("mean_rgb", 8), ("mean_audio", 4))
K = 6  # CLC classes
GROUPS = 64  # triplets: anchor and positive from one group, the negative from another
_CENTERS_RNG = np.random.default_rng(0)
CENTERS = {n: _CENTERS_RNG.normal(size=(GROUPS, d)).astype(np.float32) for n, d in MODS}
NOISE = 0.3


def _item(group, rng):
  return {n: CENTERS[n][group] + NOISE * rng.normal(size=d).astype(np.float32) for n, d in MODS}


def triplet_records(n, rng):
  """Serialized triplet examples: anchor and positive of one group, the negative of another.

  Args:
    n: how many triplets.
    rng: a `np.random.Generator` for the groups and the noise.

  Returns:
    n `tf.train.Example` byte strings with `level`, `<role>/id` and `<role>/<modality>` features.
  """
  recs = []
  for i in range(n):
    ca = int(rng.integers(GROUPS))
    cn = int((ca + 1 + rng.integers(GROUPS - 1)) % GROUPS)
    rec = {"level": [0]}
    for role, c in (("anchor", ca), ("positive", ca), ("negative", cn)):
      rec[f"{role}/id"] = f"v{i}-{role}"
      for name, x in _item(c, rng).items():
        rec[f"{role}/{name}"] = x
    recs.append(tf_example.encode(rec))
  return recs


def labelled_records(n, rng):
  """Serialized CLC examples: one item with its class label (one of `K`).

  Args:
    n: how many items.
    rng: a `np.random.Generator` for the labels and the noise.

  Returns:
    n `tf.train.Example` byte strings with `id`, `label` and one feature per modality.
  """
  recs = []
  for i in range(n):
    c = int(rng.integers(K))
    recs.append(tf_example.encode({"id": f"v{i}", "label": [c], **_item(c, rng)}))
  return recs


def small_model_config():
  """The demo model over `MODS`, small enough to train in seconds (one hidden layer of 32)."""
  return EmbeddingModelConfig.demo(modalities=tuple(ModalityConfig(n, d) for n, d in MODS),
                                  hidden_units=(32,), embedding_dim=16)
