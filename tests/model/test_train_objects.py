"""`model/train_objects.py`: the model, class table, optimizer and checkpoints of a run, and
resuming from the newest checkpoint (no training)."""

import os

import tensorflow as tf

from model.config import EmbeddingModelConfig, ModalityConfig
from model.train_objects import TrainObjects
from model.trainer_config import TrainConfig

MODEL = EmbeddingModelConfig.demo(modalities=(ModalityConfig("a", 3), ModalityConfig("b", 2)),
                                  hidden_units=(8,), embedding_dim=4)


class TrainObjectsTest(tf.test.TestCase):

  def _config(self, model_dir, **kw):
    return TrainConfig.from_flags(preset="demo", model=MODEL, model_dir=model_dir,
                                  train_data="unused", **kw)

  def test_triplet_objects_hold_the_model_and_its_variables(self):
    objs = TrainObjects(self._config(self.create_tempdir().full_path, mode="triplet"),
                        tf.distribute.get_strategy())
    self.assertIsNone(objs.table)
    self.assertEqual([v.name for v in objs.trainable_variables()],
                     [v.name for v in objs.model.trainable_variables])
    self.assertEqual(objs.model({"a": tf.zeros([2, 3]), "b": tf.zeros([2, 2])}).shape, (2, 4))

  def test_clc_adds_the_class_table_after_the_model(self):
    objs = TrainObjects(self._config(self.create_tempdir().full_path, mode="clc", num_classes=5),
                        tf.distribute.get_strategy())
    self.assertEqual(objs.table.embeddings.shape, (5, 4))
    names = [v.name for v in objs.trainable_variables()]
    self.assertEqual(names[-len(objs.table.trainable_variables):],
                     [v.name for v in objs.table.trainable_variables])

  def test_restore_resumes_the_step_and_weights_of_the_newest_checkpoint(self):
    model_dir = self.create_tempdir().full_path
    config = self._config(model_dir, mode="triplet")
    fresh = TrainObjects(config, tf.distribute.get_strategy())
    self.assertEqual(fresh.restore(), 0)
    self.assertFalse(fresh.restored)
    fresh.optimizer.iterations.assign(7)
    kernel = fresh.model.trainable_variables[0]
    kernel.assign(tf.fill(kernel.shape, 0.25))
    fresh.manager.save(checkpoint_number=7)
    again = TrainObjects(config, tf.distribute.get_strategy())
    self.assertEqual(again.restore(), 7)
    self.assertTrue(again.restored)
    self.assertAllEqual(again.model.trainable_variables[0], tf.fill(kernel.shape, 0.25))

  def test_a_non_chief_checkpoints_to_a_temporary_folder_it_removes(self):
    model_dir = self.create_tempdir().full_path
    objs = TrainObjects(self._config(model_dir, mode="triplet"), tf.distribute.get_strategy(),
                        chief=False)
    self.assertEqual(objs.chief_dir, os.path.join(model_dir, "checkpoints"))
    self.assertTrue(os.path.basename(objs.tmp_dir).startswith("checkpoints_tmp_"))
    objs.manager.save()
    self.assertTrue(tf.io.gfile.exists(objs.tmp_dir))
    objs.cleanup()
    self.assertFalse(tf.io.gfile.exists(objs.tmp_dir))
    self.assertFalse(tf.io.gfile.exists(objs.chief_dir))


if __name__ == "__main__":
  tf.test.main()
