"""The residual tower starts from the training features' geometry (gcml train)."""

import os

import numpy as np
import tensorflow as tf

from model import trainer
from model.config import EmbeddingModelConfig, ModalityConfig
from model.towers import principal_directions
from model.trainer_config import TrainConfig
from pipelines.io import tf_example
from tests.model.shards import write_shards

MODS = (("mean_rgb", 8), ("mean_audio", 4))


def _triplets(n, rng):
  records, anchors = [], []
  for i in range(n):
    rec = {"level": [0]}
    for role in ("anchor", "positive", "negative"):
      rec[f"{role}/id"] = f"v{i}-{role}"
      for name, d in MODS:
        x = rng.normal(size=d).astype(np.float32)
        x[: d // 2] *= 5.0  # a dominant subspace, so the principal directions are clear
        rec[f"{role}/{name}"] = x
      if role == "anchor":
        anchors.append({name: rec[f"anchor/{name}"] for name, _ in MODS})
    records.append((f"{i:05d}", tf_example.encode(rec)))
  return records, anchors


class InputGeometryTest(tf.test.TestCase):

  def test_fresh_run_sets_the_projection_from_the_anchors_in_file_order(self):
    rng = np.random.default_rng(0)
    records, anchors = _triplets(1100, rng)
    d = self.create_tempdir().full_path
    data = write_shards(d, "triplets", [r for _, r in records], num_shards=1)
    model = EmbeddingModelConfig.demo(modalities=tuple(ModalityConfig(n, k) for n, k in MODS),
                                      hidden_units=(16,), embedding_dim=5, tower="residual")
    cfg = TrainConfig.from_flags(preset="demo", mode="triplet", train_data=data, model=model,
                                 batch_size=32, train_steps=1, learning_rate=1e-12,
                                 model_dir=os.path.join(d, "model"))
    result = trainer.train(cfg)
    # The sample: every whole batch of 512 anchors in file order (1024 of 1100).
    parts = [np.stack([a[name] for a in anchors[:1024]]) for name, _ in MODS]
    x = np.concatenate([p / np.linalg.norm(p, axis=1, keepdims=True) for p in parts], axis=1)
    want = principal_directions(x / np.sqrt(2.0), 5)
    got = result.model.input_projection.kernel.numpy()
    # Singular vectors are defined up to sign.
    signs = np.sign(np.sum(got * want, axis=0))
    self.assertAllClose(got, want * signs, atol=1e-4)
    # The untrained residual path adds nothing: embeddings are the projected inputs.
    batch = {name: p[:7] for name, p in zip((n for n, _ in MODS), parts)}
    emb = result.model(batch).numpy()
    proj = (x[:7] / np.sqrt(2.0)) @ got
    self.assertAllClose(emb, proj / np.linalg.norm(proj, axis=1, keepdims=True), atol=1e-4)


if __name__ == "__main__":
  tf.test.main()
