"""`model/train_inputs.py`: the training and evaluation streams of a `TrainConfig`, per replica,
and the held-out evaluation over the same batches each time (no training)."""

import numpy as np
import tensorflow as tf

from model import train_inputs
from model.train_objects import TrainObjects
from model.trainer_config import TrainConfig
from tests.model.shards import write_shards
from tests.model.training_records import MODS, small_model_config, triplet_records


class TrainInputsTest(tf.test.TestCase):

  def _config(self, **kw):
    root = self.create_tempdir().full_path
    train = write_shards(root, "train", triplet_records(24, np.random.default_rng(0)))
    held_out = write_shards(root, "eval", triplet_records(16, np.random.default_rng(1)))
    return TrainConfig.from_flags(preset="demo", mode="triplet", train_data=train,
                                  eval_data=held_out, model=small_model_config(), batch_size=8,
                                  shuffle_buffer=64, model_dir=f"{root}/m", eval_steps=2, **kw)

  def test_input_config_of_the_training_and_the_evaluation_stream(self):
    config = self._config(level_schedule="0", train_steps=10)
    train = train_inputs.input_config(config, 4, for_eval=False, start_step=3)
    held_out = train_inputs.input_config(config, 4, for_eval=True)
    self.assertEqual((train.file_pattern, train.shuffle_buffer, train.level_schedule,
                      train.start_step, train.batch_size, train.schedule_steps),
                     (config.data.train_data, 64, (0,), 3, 4, 10))
    self.assertEqual((held_out.file_pattern, held_out.shuffle_buffer, held_out.level_schedule),
                     (config.data.eval_data, 0, ()))
    self.assertEqual(train.modalities, MODS)

  def test_make_dataset_batches_the_modes_records(self):
    batch = next(iter(train_inputs.make_dataset(self._config(), 4, for_eval=True)))
    self.assertEqual(batch["anchor"]["mean_rgb"].shape, (4, 8))
    self.assertEqual(batch["negative"]["mean_audio"].shape, (4, 4))
    self.assertEqual(batch["level"].shape, (4,))

  def test_distributed_dataset_gives_the_global_batch_on_one_replica(self):
    config = self._config()
    batch = next(iter(train_inputs.distributed_dataset(config, tf.distribute.get_strategy())))
    self.assertEqual(batch["positive"]["mean_rgb"].shape, (8, 8))

  def test_held_out_evaluation_scores_the_same_batches_each_time(self):
    config = self._config()
    strategy = tf.distribute.get_strategy()
    evaluator = train_inputs.HeldOutEvaluator(config, strategy, TrainObjects(config, strategy),
                                              is_ps=False)
    first, second = evaluator(), evaluator()
    self.assertIn("loss", first)
    self.assertTrue(np.isfinite(first["loss"]))
    self.assertEqual(first, second)


if __name__ == "__main__":
  tf.test.main()
