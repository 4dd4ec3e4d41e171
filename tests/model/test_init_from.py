"""`model/init_from.py`: `--init_from` copies a pre-trained network's weights from a checkpoint,
and refuses another network or other modalities in one line (no training)."""

import json
import os

import numpy as np
import tensorflow as tf

from model import init_from
from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.towers import EmbeddingModel

MODS = (ModalityConfig("a", 3), ModalityConfig("b", 2))


def _model(seed, hidden=8, modalities=MODS):
  tf.keras.utils.set_random_seed(seed)
  model = EmbeddingModel(EmbeddingModelConfig.demo(modalities=modalities, hidden_units=(hidden,),
                                                   embedding_dim=4))
  model({m.name: tf.zeros([1, m.dim]) for m in modalities})
  return model


class InitFromTest(tf.test.TestCase):

  def _pretrained(self, **kw):
    directory = self.create_tempdir().full_path
    source = _model(1, **kw)
    tf.train.Checkpoint(model=source).save(os.path.join(directory, "checkpoints", "ckpt"))
    return directory, source

  def test_load_copies_every_weight_of_the_checkpoint(self):
    directory, source = self._pretrained()
    target = _model(2)
    self.assertNotAllClose(target.trainable_variables[0], source.trainable_variables[0])
    path = init_from.load(target, directory)
    self.assertEqual(path, os.path.join(directory, "checkpoints", "ckpt-1"))
    for got, want in zip(target.trainable_variables, source.trainable_variables):
      self.assertAllEqual(got, want)
    x = {"a": np.ones((2, 3), np.float32), "b": np.ones((2, 2), np.float32)}
    self.assertAllEqual(target(x), source(x))

  def test_source_checkpoint_of_a_folder_without_one_is_one_line(self):
    empty = self.create_tempdir().full_path
    with self.assertRaisesRegex(ConfigError, r"^--init_from=.*: no checkpoint \(checkpoints/"
                                             r"ckpt-N\), SavedModel or checkpoint prefix there$"):
      init_from.source_checkpoint(empty)

  def test_another_network_is_refused_naming_the_variable(self):
    directory, _ = self._pretrained(hidden=8)
    with self.assertRaisesRegex(ConfigError, r"has shape \[3, 8\] there, the model needs "
                                             r"\[3, 16\]; pre-train with the same network"):
      init_from.load(_model(2, hidden=16), directory)

  def test_recorded_modalities_must_match(self):
    directory, _ = self._pretrained()
    with open(os.path.join(directory, "train_config.json"), "w", encoding="utf-8") as f:
      json.dump({"model": {"modalities": [{"name": "b", "dim": 2}, {"name": "a", "dim": 3}]}}, f)
    self.assertEqual(init_from.recorded_modalities(directory), (("b", 2), ("a", 3)))
    self.assertEqual(init_from.recorded_modalities(os.path.join(directory, "export")),
                     (("b", 2), ("a", 3)))  # an export/ reads the folder above
    with self.assertRaisesRegex(ConfigError, r"was trained on modalities b:2,a:3, the model has "
                                             r"a:3,b:2; name the same ones in the same order$"):
      init_from.load(_model(2), directory)

  def test_unreadable_train_config_records_nothing(self):
    directory = self.create_tempdir().full_path
    self.assertIsNone(init_from.recorded_modalities(directory))
    with open(os.path.join(directory, "train_config.json"), "w", encoding="utf-8") as f:
      f.write("{}")
    self.assertIsNone(init_from.recorded_modalities(directory))


if __name__ == "__main__":
  tf.test.main()
