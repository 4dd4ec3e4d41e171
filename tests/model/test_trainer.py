"""`model/trainer.py` (`gcml train`): the three modes on tiny data, resume, export, config errors."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from model import train_objects, trainer
from model.errors import ConfigError
from model.export import load_embedder
from model.strategies import make_strategy
from model.trainer_config import TrainConfig
from pipelines.io import tf_example
from pipelines.evaluation import training_summaries
from tests.model.shards import write_shards
from tests.model.training_records import (K, MODS, labelled_records, small_model_config,
                                          triplet_records)


class TrainTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    tf.keras.utils.set_random_seed(0)

  def _write(self, records, name):
    d = self.create_tempdir().full_path
    return d, write_shards(d, name, records)

  def _config(self, mode, data, **kw):
    kw = {"model_dir": self.create_tempdir().full_path, "learning_rate": 0.01, **kw}
    return TrainConfig.from_flags(preset="demo", mode=mode, train_data=data, model=small_model_config(),
                                  batch_size=32, shuffle_buffer=256, **kw)

  def _assert_falls(self, result):
    losses = np.array([l for _, l in result.losses])
    self.assertTrue(np.all(np.isfinite(losses)))
    # Semi-hard mining keeps the loss up (harder negatives as it learns): ~0.75x here.
    self.assertLess(losses[-10:].mean(), 0.9 * losses[:10].mean())

  def test_triplet_trains_resumes_and_exports(self):
    rng = np.random.default_rng(1)
    _, data = self._write(triplet_records(400, rng), "triplets")
    cfg = self._config("triplet", data, train_steps=40, checkpoint_every=10, summary_every=10)
    result = trainer.train(cfg)
    self.assertEqual((result.start_step, result.final_step), (0, 40))
    self._assert_falls(result)
    for k in ("usage_ratio", "chosen_margin_mean", "active_fraction"):
      self.assertIn(k, result.last_metrics)
    tags = {}
    for path in tf.io.gfile.glob(os.path.join(cfg.runtime.model_dir, "train", "events.*")):
      for event in tf.compat.v1.train.summary_iterator(path):
        for v in event.summary.value:
          tags.setdefault(v.tag, []).append(event.step)
    for tag in ("loss", "learning_rate", "examples_per_second", "usage_ratio",
                "chosen_margin_mean", "assigned_margin_mean"):
      self.assertEqual(tags.get(tag), [10, 20, 30, 40], tag)

    ckpts = tf.train.get_checkpoint_state(os.path.join(cfg.runtime.model_dir, "checkpoints"))
    self.assertEqual([p.rsplit("-", 1)[1] for p in ckpts.all_model_checkpoint_paths],
                     ["20", "30", "40"])
    # Resume: train_steps=45 starts where the last run stopped.
    more = trainer.train(dataclasses.replace(
        cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=45)))
    self.assertEqual((more.start_step, more.final_step), (40, 45))
    self.assertLen(more.losses, 5)

    # Export reload gives the model's embeddings.
    x = {n: rng.normal(size=(5, d)).astype(np.float32) for n, d in MODS}
    expected = more.model(x, training=False).numpy()
    got = load_embedder(more.export_dir)(x).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    sig = tf.saved_model.load(more.export_dir).signatures["serving_default"]
    self.assertCountEqual(sig.structured_input_signature[1].keys(), [n for n, _ in MODS])
    self.assertEqual(list(sig.structured_outputs), ["embedding"])

    # On demand: re-export from the latest checkpoint, same embeddings.
    tf.io.gfile.rmtree(more.export_dir)
    self.assertEqual(trainer.export(cfg), more.export_dir)
    np.testing.assert_allclose(load_embedder(more.export_dir)(x).numpy(), expected, atol=1e-5)

    # Optimizer state restored too (RMSProp/Adam slots), not only the weights.
    trained = {v.name: v.numpy() for v in more.optimizer.variables}
    again = train_objects.TrainObjects(cfg, tf.distribute.get_strategy())
    again.restore()
    self.assertEqual(int(again.optimizer.iterations), 45)
    for v in again.optimizer.variables:
      np.testing.assert_array_equal(v.numpy(), trained[v.name], err_msg=v.name)
    self.assertGreater(len(trained), 2)

  def test_clc_reads_classes_tsv_and_trains(self):
    rng = np.random.default_rng(2)
    d, data = self._write(labelled_records(400, rng), "labels")
    with open(os.path.join(d, "classes.tsv"), "w") as f:
      f.write("label\tcluster\tsize\n" + "".join(f"{c}\tc{c}\t10\n" for c in range(K)))
    cfg = self._config("clc", data, train_steps=30, num_sampled=4, learning_rate=0.05)
    self.assertEqual(cfg.validate().resolved_num_classes(), K)
    result = trainer.train(cfg)
    self._assert_falls(result)

  def test_contrastive_trains(self):
    rng = np.random.default_rng(3)
    _, data = self._write(triplet_records(200, rng), "triplets")
    result = trainer.train(self._config("contrastive", data, train_steps=5))
    self.assertEqual(result.final_step, 5)
    self.assertTrue(all(np.isfinite(l) for _, l in result.losses))

  def test_evaluation_on_eval_data(self):
    rng = np.random.default_rng(6)
    _, data = self._write(triplet_records(400, rng), "triplets")
    _, held_out = self._write(triplet_records(160, rng), "held_out")
    cfg = self._config("triplet", data, eval_data=held_out, train_steps=30, checkpoint_every=10,
                       summary_every=10, eval_every=15, eval_steps=5)
    self.assertEqual(cfg.eval_interval(), 15)
    result = trainer.train(cfg)
    evals = {tag: dict(values) for tag, values in training_summaries.read_scalars(
        training_summaries.event_files(cfg.runtime.model_dir, "eval")).items()}
    self.assertEqual(sorted(evals["loss"]), [15, 30])
    self.assertEqual(sorted(evals["triplet_accuracy"]), [15, 30])
    self.assertIn("usage_ratio", evals)
    self.assertAllClose(result.eval_metrics["loss"], evals["loss"][30])  # float32 summary

    # The last evaluation, recomputed by hand: 5 batches of 32 are exactly the
    # 160 held-out triplets; assigned negatives, squared distances.
    records = []
    for path in sorted(tf.io.gfile.glob(held_out)):
      records += [r.numpy() for r in tf.data.TFRecordDataset(path)]
    self.assertLen(records, 5 * 32)

    def embed(role):
      x = {n: np.stack([tf_example.parse(r)[f"{role}/{n}"] for r in records]).astype(np.float32)
           for n, _ in MODS}
      return result.model(x, training=False).numpy()

    a, p, n = embed("anchor"), embed("positive"), embed("negative")
    expected = np.mean(((a - p) ** 2).sum(1) < ((a - n) ** 2).sum(1))
    self.assertAllClose(result.eval_metrics["triplet_accuracy"], expected, atol=1e-6)
    self.assertGreater(result.eval_metrics["triplet_accuracy"], 0.8)

  def test_presets_and_overrides(self):
    paper = TrainConfig.from_flags(preset="paper", mode="triplet")
    p = paper.trainer
    self.assertEqual((p.optimizer, p.learning_rate, p.decay_rate, p.decay_steps,
                      p.margin, p.batch_size), ("rmsprop", 0.1, 0.98, 300000, 0.5, 9600))
    self.assertEqual(paper.model.hidden_units, (4000,))
    clc = TrainConfig.from_flags(preset="paper", mode="clc", batch_size=256)
    c = clc.trainer
    self.assertEqual((c.optimizer, c.learning_rate, c.decay_rate, c.decay_steps,
                      c.batch_size, c.num_sampled), ("sgd", 300.0, 0.5, 200000, 256, 200000))

  def test_config_errors(self):
    _, data = self._write(triplet_records(8, np.random.default_rng(4)), "t")
    md = self.create_tempdir().full_path
    cases = [
        (dict(train_data=""), "--train_data is required"),
        (dict(train_data="/nonexistent/x-*.tfrecord"), "no file matches"),
        (dict(strategy="bogus"), "--strategy must be one of"),
        (dict(mode="bogus"), "--mode must be one of"),
        (dict(optimizer="bogus"), "--optimizer"),
        (dict(mode="clc"), "classes.tsv"),
        (dict(strategy="tpu"), "--tpu"),
        (dict(eval_data="/nonexistent/e-*.tfrecord"), "--eval_data: no file matches"),
        (dict(eval_steps=0), "--eval_steps must be a positive int"),
        (dict(eval_every=-1), "--eval_every must be an int >= 0"),
    ]
    for kw, msg in cases:
      with self.subTest(kw=kw), self.assertRaisesRegex(ConfigError, msg):
        TrainConfig.from_flags(**{"train_data": data, "model_dir": md, **kw}).validate()
    with self.assertRaisesRegex(ConfigError, "--strategy must be one of"):
      make_strategy("bogus")
    cfg = TrainConfig.from_flags(train_data=data, model_dir=md, batch_size=33)
    with self.assertRaisesRegex(ConfigError, "not divisible by the 2 replicas"):
      cfg.trainer.check_replicas(2)
    with self.assertRaisesRegex(ConfigError, "preset"):
      TrainConfig.from_flags(preset="huge")


if __name__ == "__main__":
  tf.test.main()
