"""`model/steps.py`: the learning-rate schedule, the optimizer, each mode's input contract, and one
replica step with its finite-value guard (a single update, no training run)."""

import numpy as np
import tensorflow as tf

from model import nonfinite, steps, train_inputs
from model.train_objects import TrainObjects
from model.trainer_config import TrainConfig
from tests.model.shards import write_shards
from tests.model.training_records import small_model_config, triplet_records


class StepsTest(tf.test.TestCase):

  def _config(self, **kw):
    root = self.create_tempdir().full_path
    data = write_shards(root, "t", triplet_records(16, np.random.default_rng(0)))
    return TrainConfig.from_flags(preset="demo", mode="triplet", train_data=data, model=small_model_config(),
                                  batch_size=8, shuffle_buffer=0, model_dir=f"{root}/m", **kw)

  def test_staircase_learning_rate(self):
    schedule = steps.learning_rate_schedule(
        self._config(learning_rate=0.1, decay_steps=10, decay_rate=0.5))
    self.assertAllClose([float(schedule(s)) for s in (0, 9, 10, 25)], [0.1, 0.1, 0.05, 0.025])

  def test_optimizer_by_name(self):
    for name, kind in (("rmsprop", tf.keras.optimizers.RMSprop), ("sgd", tf.keras.optimizers.SGD),
                       ("adam", tf.keras.optimizers.Adam)):
      self.assertIsInstance(steps.make_optimizer(self._config(optimizer=name)), kind)

  def test_input_kind_of_each_mode(self):
    self.assertEqual([steps.input_kind(m) for m in ("triplet", "contrastive", "clc",
                                                    "temporal_contrastive")],
                     ["triplet", "triplet", "labels", "frames"])

  def test_a_step_updates_and_a_non_finite_batch_is_skipped(self):
    config = self._config(on_nonfinite="skip", learning_rate=0.1)
    objs = TrainObjects(config, tf.distribute.get_strategy())
    step = steps.make_replica_step(config, objs.model, objs.optimizer)
    batch = next(iter(train_inputs.make_dataset(config, 8, for_eval=False)))
    before = [v.numpy() for v in objs.model.trainable_variables]
    out = step(batch)
    self.assertEqual([float(out[k]) for k in steps.GUARD_KEYS], [0.0, 0.0, 0.0])
    self.assertTrue(np.isfinite(float(out["loss"])))
    self.assertTrue(any(not np.array_equal(b, v.numpy())
                        for b, v in zip(before, objs.model.trainable_variables)))
    after_good = [v.numpy() for v in objs.model.trainable_variables]
    batch["anchor"]["mean_rgb"] = tf.fill(tf.shape(batch["anchor"]["mean_rgb"]), np.nan)
    out = step(batch)
    self.assertTrue(int(out["nonfinite"]) & nonfinite.LOSS)
    self.assertEqual((float(out["skipped"]), float(out["stop"])), (1.0, 0.0))
    for kept, v in zip(after_good, objs.model.trainable_variables):
      self.assertAllEqual(kept, v)
    self.assertEqual(int(objs.optimizer.iterations), 2)  # the skipped step still counts


if __name__ == "__main__":
  tf.test.main()
