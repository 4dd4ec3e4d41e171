"""The temporal tower: masked attention pooling over frames, then the video-level network."""

import numpy as np
import tensorflow as tf

from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.temporal_tower import MASK_KEY, TemporalEmbeddingModel, masked_attention_pool

MODS = (ModalityConfig("rgb", 4), ModalityConfig("audio", 2))


class PoolTest(tf.test.TestCase):

  def test_pooling_by_hand(self):
    frames = tf.constant([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    mask = tf.constant([[True, True, False]])
    # Scores 0 and log(3): weights 1/4 and 3/4; the masked frame gets nothing.
    pooled = masked_attention_pool(frames, mask, tf.constant([[0.0, np.log(3.0), 50.0]]))
    self.assertAllClose(pooled, [[0.25, 0.75]])


class TemporalTowerTest(tf.test.TestCase):

  def _inputs(self, seed=0):
    rng = np.random.default_rng(seed)
    mask = np.array([[True] * 5 + [False], [True] * 2 + [False] * 4])
    return {"rgb": rng.normal(size=(2, 6, 4)).astype(np.float32),
            "audio": rng.normal(size=(2, 6, 2)).astype(np.float32), MASK_KEY: mask}

  def test_untrained_tower_pools_by_the_masked_mean(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS, hidden_units=(8,),
                                                        embedding_dim=3))
    inputs = self._inputs()
    out = model(inputs)
    mask = inputs[MASK_KEY][..., None]
    means = {m: (inputs[m] * mask).sum(1) / mask.sum(1) for m in ("rgb", "audio")}
    self.assertAllClose(out, model.video_model(means), atol=1e-6)
    self.assertAllClose(tf.norm(out, axis=-1), [1.0, 1.0], atol=1e-5)

  def test_padding_does_not_change_the_embedding(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS, hidden_units=(8,),
                                                        embedding_dim=3))
    inputs = self._inputs()
    model(inputs)
    model.scorers["rgb"].set_weights([np.ones((4, 1), np.float32), np.zeros(1, np.float32)])
    changed = dict(inputs)
    changed["rgb"] = inputs["rgb"].copy()
    changed["rgb"][:, 5] = 1e3  # a padded frame
    self.assertAllClose(model(inputs), model(changed), atol=1e-6)

  def test_bad_inputs_are_one_line_errors(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS))
    inputs = self._inputs()
    with self.assertRaisesRegex(ConfigError, "missing input 'frame_mask'"):
      model({k: v for k, v in inputs.items() if k != MASK_KEY})
    with self.assertRaisesRegex(ConfigError, r"rgb must be \[batch, frames, 4\]"):
      model({**inputs, "rgb": inputs["rgb"][:, :, :3]})
    spec = model.input_signature()
    self.assertEqual(spec["rgb"].shape.as_list(), [None, None, 4])
    self.assertEqual(spec[MASK_KEY].dtype, tf.bool)
