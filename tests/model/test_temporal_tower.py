"""The temporal tower: masked attention pooling over frames, then the video-level network."""

import json

import numpy as np
import tensorflow as tf

from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.export import export_saved_model
from model.temporal_tower import MASK_KEY, TemporalEmbeddingModel, masked_attention_pool

MODS = (ModalityConfig("rgb", 4), ModalityConfig("audio", 2))


def frame_inputs(seed=0):
  """Two clips of 6 frames (5 and 2 valid) of the `MODS` modalities."""
  rng = np.random.default_rng(seed)
  mask = np.array([[True] * 5 + [False], [True] * 2 + [False] * 4])
  return {"rgb": rng.normal(size=(2, 6, 4)).astype(np.float32),
          "audio": rng.normal(size=(2, 6, 2)).astype(np.float32), MASK_KEY: mask}


class PoolTest(tf.test.TestCase):

  def test_pooling_by_hand(self):
    frames = tf.constant([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])
    mask = tf.constant([[True, True, False]])
    # Scores 0 and log(3): weights 1/4 and 3/4; the masked frame gets nothing.
    pooled = masked_attention_pool(frames, mask, tf.constant([[0.0, np.log(3.0), 50.0]]))
    self.assertAllClose(pooled, [[0.25, 0.75]])


class TemporalTowerTest(tf.test.TestCase):

  def test_untrained_tower_pools_by_the_masked_mean(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS, hidden_units=(8,),
                                                        embedding_dim=3))
    inputs = frame_inputs()
    out = model(inputs)
    mask = inputs[MASK_KEY][..., None]
    means = {m: (inputs[m] * mask).sum(1) / mask.sum(1) for m in ("rgb", "audio")}
    self.assertAllClose(out, model.video_model(means), atol=1e-6)
    self.assertAllClose(tf.norm(out, axis=-1), [1.0, 1.0], atol=1e-5)

  def test_padding_does_not_change_the_embedding(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS, hidden_units=(8,),
                                                        embedding_dim=3))
    inputs = frame_inputs()
    model(inputs)
    model.scorers["rgb"].set_weights([np.ones((4, 1), np.float32), np.zeros(1, np.float32)])
    changed = dict(inputs)
    changed["rgb"] = inputs["rgb"].copy()
    changed["rgb"][:, 5] = 1e3  # a padded frame
    self.assertAllClose(model(inputs), model(changed), atol=1e-6)

  def test_bad_inputs_are_one_line_errors(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS))
    inputs = frame_inputs()
    with self.assertRaisesRegex(ConfigError, "missing input 'frame_mask'"):
      model({k: v for k, v in inputs.items() if k != MASK_KEY})
    with self.assertRaisesRegex(ConfigError, r"rgb must be \[batch, frames, 4\]"):
      model({**inputs, "rgb": inputs["rgb"][:, :, :3]})
    spec = model.input_signature()
    self.assertEqual(spec["rgb"].shape.as_list(), [None, None, 4])
    self.assertEqual(spec[MASK_KEY].dtype, tf.bool)


class TemporalConfigTest(tf.test.TestCase):

  def test_config_round_trips_through_json(self):
    cfg = EmbeddingModelConfig(modalities=MODS, hidden_units=(5,), embedding_dim=3,
                               fusion="early", dropout=0.25)
    model = TemporalEmbeddingModel(cfg, name="temporal")
    saved = json.loads(json.dumps(model.get_config()))
    self.assertEqual(saved["name"], "temporal")
    self.assertEqual(saved["config"]["hidden_units"], [5])
    self.assertEqual(saved["config"]["modalities"],
                     [{"name": "rgb", "dim": 4}, {"name": "audio", "dim": 2}])
    copy = TemporalEmbeddingModel.from_config(saved)
    self.assertEqual((copy.config, copy.name), (cfg, "temporal"))
    x = frame_inputs(1)
    model(x)
    copy(x)
    # Scorers that do not pool by the mean, so the copy's scorers must be set too.
    model.scorers["rgb"].set_weights([np.arange(4, dtype=np.float32)[:, None],
                                      np.zeros(1, np.float32)])
    copy.set_weights(model.get_weights())  # same architecture: the same variables, in order
    self.assertAllClose(copy(x), model(x), atol=0)

  def test_export_warns_of_no_missing_get_config(self):
    model = TemporalEmbeddingModel(EmbeddingModelConfig(modalities=MODS, hidden_units=(4,),
                                                        embedding_dim=3))
    model(frame_inputs(1))
    with self.assertNoLogs("tensorflow", level="WARNING"):
      export_saved_model(model, self.get_temp_dir() + "/export")
