"""--steps_per_loop (N steps per host call) and the finite-value guard (--on_nonfinite)."""

import dataclasses
import os
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow as tf

from model import trainer
from model.nonfinite import NonFiniteError
from model.trainer_config import TrainConfig
from pipelines.io import tf_example
from pipelines.evaluation import training_summaries
from tests.model.shards import write_shards
from tests.model.training_records import small_model_config, triplet_records

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _poison(records, index, value=float("nan")):
  """The record at `index` with its first anchor feature value set to `value`."""
  rec = tf_example.parse(records[index])
  rec["anchor/mean_rgb"] = np.array(rec["anchor/mean_rgb"], np.float32)
  rec["anchor/mean_rgb"][0] = value
  return records[:index] + [tf_example.encode(rec)] + records[index + 1:]


class TrainLoopTest(tf.test.TestCase):

  def _config(self, data, **kw):
    kw = {"model_dir": self.create_tempdir().full_path, "learning_rate": 0.01,
          "shuffle_buffer": 64, **kw}
    return TrainConfig.from_flags(preset="demo", mode="triplet", train_data=data,
                                  model=small_model_config(), batch_size=32, **kw)

  def _data(self, records):
    return write_shards(self.create_tempdir().full_path, "t", records, num_shards=1)

  def test_loop_gives_the_steps_of_one_step_calls(self):
    # One shard, seeded shuffle, seeded initialisers: the same batches and weights,
    # so 7 steps per call give the losses and weights of 1 step per call, bit for
    # bit (every step runs in the loop's body, whatever the loop's length).
    data = self._data(triplet_records(200, np.random.default_rng(11)))
    runs = {}
    for per_loop in (1, 7):
      tf.keras.utils.set_random_seed(0)
      cfg = self._config(data, train_steps=20, steps_per_loop=per_loop, checkpoint_every=10,
                         summary_every=10)
      runs[per_loop] = (cfg, trainer.train(cfg))
    one, (cfg7, seven) = runs[1][1], runs[7]
    self.assertEqual([s for s, _ in seven.losses], list(range(1, 21)))
    self.assertEqual(seven.losses, one.losses)
    for a, b in zip(one.model.weights, seven.model.weights, strict=True):
      self.assertEqual(a.numpy().tobytes(), b.numpy().tobytes(), a.name)
    # Loop boundaries: 7, 10 (summary and checkpoint), 17, 20.
    ckpts = tf.train.get_checkpoint_state(os.path.join(cfg7.runtime.model_dir, "checkpoints"))
    self.assertEqual([p.rsplit("-", 1)[1] for p in ckpts.all_model_checkpoint_paths],
                     ["10", "20"])
    scalars = training_summaries.read_scalars(
        training_summaries.event_files(cfg7.runtime.model_dir, "train"))
    self.assertEqual(sorted(dict(scalars["loss"])), [10, 20])
    # The summary is the mean over the loop's steps (18..20 here: 17 was a loop end).
    self.assertAllClose(dict(scalars["loss"])[20],
                        np.mean([l for s, l in seven.losses if s > 17]), rtol=1e-5)
    self.assertNotIn("nonfinite", scalars)
    self.assertIsNotNone(seven.export_dir)

  def test_nan_feature_stops_with_the_step_and_no_export(self):
    records = _poison(triplet_records(64, np.random.default_rng(12)), 40)
    data = self._data(records)
    cfg = self._config(data, train_steps=6, steps_per_loop=4, checkpoint_every=1,
                       shuffle_buffer=0)
    with self.assertRaisesRegex(NonFiniteError,
                                r"^non-finite (loss, )?gradient and variable at step 2; training stopped"):
      trainer.train(cfg)  # batch 2 (records 32..63) holds the NaN
    self.assertFalse(os.path.exists(os.path.join(cfg.runtime.model_dir, "export")))
    ckpts = tf.train.get_checkpoint_state(os.path.join(cfg.runtime.model_dir, "checkpoints"))
    self.assertEqual([p.rsplit("-", 1)[1] for p in ckpts.all_model_checkpoint_paths], ["1"])

  def test_absurd_learning_rate_stops(self):
    data = self._data(triplet_records(64, np.random.default_rng(13)))
    cfg = self._config(data, train_steps=20, steps_per_loop=5, learning_rate=1e38,
                       optimizer="sgd")
    with self.assertRaisesRegex(NonFiniteError, r"non-finite .* at step \d+"):
      trainer.train(cfg)
    self.assertFalse(os.path.exists(os.path.join(cfg.runtime.model_dir, "export")))

  def test_skip_drops_the_update_and_counts_it(self):
    records = _poison(triplet_records(64, np.random.default_rng(14)), 40, float("inf"))
    data = self._data(records)
    cfg = self._config(data, train_steps=6, steps_per_loop=3, shuffle_buffer=0,
                       on_nonfinite="skip", summary_every=3)
    result = trainer.train(cfg)
    self.assertEqual(result.final_step, 6)
    self.assertLen(result.losses, 6)
    # Batches alternate clean, poisoned (records 32..63): steps 2, 4, 6 skipped.
    finite = [np.isfinite(l) for _, l in result.losses]
    self.assertEqual(finite, [True, False] * 3)
    scalars = training_summaries.read_scalars(
        training_summaries.event_files(cfg.runtime.model_dir, "train"))
    self.assertEqual(dict(scalars["nonfinite_skipped"]), {3: 1.0, 6: 3.0})
    self.assertTrue(all(np.isfinite(v) for _, v in scalars["loss"]))  # skipped steps left out
    for v in result.model.trainable_variables:
      self.assertTrue(np.all(np.isfinite(v.numpy())), v.name)
    self.assertIsNotNone(result.export_dir)
    # A skipped step changed nothing: the same run without the poisoned batches'
    # updates equals... the Adam state advanced 3 times only.
    slots = [v for v in result.optimizer.variables if "iteration" not in v.name]
    self.assertTrue(all(np.all(np.isfinite(v.numpy())) for v in slots))

  def test_cli_nan_triplet_is_a_one_line_error_exit_2(self):
    records = _poison(triplet_records(64, np.random.default_rng(16)), 3)
    data = self._data(records)
    model_dir = self.create_tempdir().full_path
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "launch.train", "--mode=triplet", f"--train_data={data}",
         f"--model_dir={model_dir}", "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32",
         "--embedding_dim=16", "--batch_size=32", "--train_steps=10", "--steps_per_loop=5",
         "--shuffle_buffer=0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 2, proc.stderr[-3000:])
    self.assertNotIn("Traceback", proc.stderr)
    self.assertRegex(proc.stderr.strip().splitlines()[-1],
                     r"^gcml train: error: non-finite (loss, )?gradient and variable at step 1; ")
    self.assertNotIn("exported", proc.stdout)
    self.assertFalse(os.path.exists(os.path.join(model_dir, "export")))
    self.assertIsNone(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))

  def test_flags(self):
    data = self._data(triplet_records(8, np.random.default_rng(15)))
    from model.errors import ConfigError
    for kw, msg in ((dict(steps_per_loop=0), "--steps_per_loop must be a positive int"),
                    (dict(on_nonfinite="ignore"), "--on_nonfinite must be one of"),
                    (dict(sampler="zipf"), "--sampler must be one of")):
      with self.subTest(kw=kw), self.assertRaisesRegex(ConfigError, msg):
        self._config(data, **kw).validate()
    self.assertEqual(dataclasses.replace(self._config(data)).runtime.steps_per_loop, 100)
    self.assertEqual(TrainConfig.from_flags(preset="paper", train_data=data)
                     .runtime.steps_per_loop, 1)


if __name__ == "__main__":
  tf.test.main()
