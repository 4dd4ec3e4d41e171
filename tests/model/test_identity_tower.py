"""The identity-initialised full-rank tower and the pull towards the initial kernels."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow as tf

from launch.train import config_from_argv
from model import metrics, train_objects, trainer
from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.export import export_saved_model, load_embedder
from model.steps import make_replica_step
from model.towers import EmbeddingModel
from model.trainer_config import TrainConfig
from model.trainer_config_groups import DataConfig, RuntimeConfig, TrainerConfig
from tests.model.shards import write_shards
from tests.model.training_records import MODS, triplet_records

SMALL = (ModalityConfig("rgb", 6), ModalityConfig("audio", 3))
MIRRORED_CHECK = pathlib.Path(__file__).with_name("mirrored_pull_check.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def inputs(rng, batch, modalities=SMALL):
  return {m.name: tf.constant(rng.normal(size=(batch, m.dim)), tf.float32) for m in modalities}


def raw_features(x):
  """The raw-feature baseline as `model/validation.py` builds it (per modality, concatenated)."""
  return np.concatenate([metrics.normalize_rows(x[m.name].numpy()) for m in SMALL], axis=1)


class IdentityTowerTest(tf.test.TestCase):

  def test_untrained_output_is_the_raw_features_vector(self):
    cfg = EmbeddingModelConfig.demo(modalities=SMALL, tower="identity_linear")
    self.assertEqual(cfg.output_dim, 9)
    model = EmbeddingModel(cfg)
    x = inputs(np.random.default_rng(0), 40)
    out = model(x).numpy()
    self.assertEqual(out.shape, (40, 9))
    raw = raw_features(x)  # each row has norm sqrt(2): two unit modalities
    self.assertAllClose(out * np.sqrt(2.0), raw, atol=1e-6)
    self.assertAllClose(model.input_projection.kernel, np.eye(9))
    # so the retrieval scores are the raw features' scores, exactly
    rel = np.random.default_rng(1).random((10, 30)) < 0.2
    rel[:, 0] = True
    self.assertEqual(metrics.retrieval_metrics(out[:10], out[10:], rel),
                     metrics.retrieval_metrics(raw[:10], raw[10:], rel))

  def test_export_signature_has_the_input_size(self):
    model = EmbeddingModel(EmbeddingModelConfig.demo(modalities=SMALL, tower="identity_linear"))
    x = inputs(np.random.default_rng(2), 4)
    model(x)
    path = export_saved_model(model, self.get_temp_dir() + "/export")
    got = load_embedder(path)({k: v.numpy() for k, v in x.items()}).numpy()
    self.assertEqual(got.shape, (4, 9))
    self.assertAllClose(got, model(x), atol=1e-6)

  def test_flags_and_validation(self):
    data = self.create_tempfile("t.tfrecord").full_path
    cfg, _ = config_from_argv([f"--train_data={data}", "--model_dir=/y", "--modalities=a:4,b:2",
                               "--tower=identity_linear", "--pull_to_init=0.25"],
                              read_inputs=False)
    self.assertEqual((cfg.model.tower, cfg.model.pull_to_init, cfg.model.output_dim),
                     ("identity_linear", 0.25, 6))
    self.assertEqual(TrainConfig.from_flags(preset="demo").model.pull_to_init, 0.0)
    for bad in (-1.0, float("nan"), float("inf"), True):
      with self.subTest(bad=bad), self.assertRaisesRegex(ConfigError, "pull_to_init"):
        EmbeddingModelConfig.demo(pull_to_init=bad).validate()


class PullToInitTest(tf.test.TestCase):

  def test_penalty_is_lambda_times_squared_distance_to_the_initial_kernels(self):
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(4,), embedding_dim=3,
                               pull_to_init=0.5)
    model = EmbeddingModel(cfg)
    model(inputs(np.random.default_rng(3), 2))
    self.assertEmpty(model.losses)  # nothing before the snapshot
    model.snapshot_init()
    self.assertAllClose(model.losses, [0.0])
    kernels = model.kernels()
    self.assertLen(kernels, 4)  # hidden + projection, per modality tower
    kernels[0].assign_add(tf.fill(kernels[0].shape, 0.1))    # 6 x 4 entries moved by 0.1
    kernels[3].assign_add(tf.fill(kernels[3].shape, -2.0))   # 4 x 3 entries moved by -2
    # 0.5 * (24 * 0.01 + 12 * 4) = 0.5 * 48.24
    self.assertAllClose(model.losses, [24.12])

  def test_off_by_default_and_identity_anchor(self):
    model = EmbeddingModel(EmbeddingModelConfig.demo(modalities=SMALL, tower="identity_linear"))
    model(inputs(np.random.default_rng(4), 2))
    model.snapshot_init()
    self.assertEmpty(model.losses)
    self.assertEmpty(model.init_kernels)
    pulled = EmbeddingModel(EmbeddingModelConfig.demo(modalities=SMALL, tower="identity_linear",
                                                      pull_to_init=2.0))
    pulled(inputs(np.random.default_rng(4), 2))
    pulled.snapshot_init()
    self.assertAllClose(pulled.init_kernels[0], np.eye(9))
    pulled.input_projection.kernel.assign(np.zeros((9, 9)))
    self.assertAllClose(pulled.losses, [2.0 * 9])

  def test_the_step_adds_the_penalty_and_its_gradient(self):
    cfg = TrainConfig(data=DataConfig(train_data="x"), runtime=RuntimeConfig(model_dir="y"),
                      trainer=TrainerConfig(mode="contrastive", batch_size=4, optimizer="sgd",
                                            learning_rate=0.1),
                      model=EmbeddingModelConfig.demo(modalities=SMALL, tower="identity_linear",
                                                      pull_to_init=0.5))
    rng = np.random.default_rng(5)
    batch = {"anchor": inputs(rng, 4), "positive": inputs(rng, 4),
             "anchor_id": tf.constant([1, 2, 3, 4], tf.int64),
             "positive_id": tf.constant([5, 6, 7, 8], tf.int64)}
    plain = dataclasses.replace(cfg, model=EmbeddingModelConfig.demo(
        modalities=SMALL, tower="identity_linear"))
    out = {}
    for name, c in (("pulled", cfg), ("plain", plain)):
      model = EmbeddingModel(c.model)
      model(batch["anchor"])
      model.snapshot_init()
      delta = np.full((9, 9), 0.2, np.float32)  # W - W0: 81 entries of 0.2
      model.input_projection.kernel.assign_add(delta)
      optimizer = tf.keras.optimizers.SGD(0.1)
      loss = make_replica_step(c, model, optimizer)(batch)["loss"]
      out[name] = (float(loss), model.input_projection.kernel.numpy())
    # loss: + 0.5 * 81 * 0.04; kernel: the penalty's gradient 2 * 0.5 * 0.2 more, times lr 0.1
    self.assertAllClose(out["pulled"][0] - out["plain"][0], 1.62, atol=1e-5)
    self.assertAllClose(out["plain"][1] - out["pulled"][1], np.full((9, 9), 0.02), atol=1e-6)

  def test_checkpoint_restores_the_anchors_not_a_new_init(self):
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(4,), embedding_dim=3,
                               pull_to_init=1.0)
    x = inputs(np.random.default_rng(6), 2)
    first = EmbeddingModel(cfg)
    first(x)
    first.snapshot_init()
    saved_anchors = [a.numpy() for a in first.init_kernels]
    for k in first.kernels():
      k.assign_add(tf.ones_like(k))
    path = tf.train.Checkpoint(model=first).save(self.get_temp_dir() + "/ckpt")
    second = EmbeddingModel(cfg)
    second(x)
    second.snapshot_init()  # a fresh run's anchors: other random kernels
    self.assertNotAllClose(second.init_kernels[0], saved_anchors[0])
    tf.train.Checkpoint(model=second).restore(path).assert_consumed()
    for got, want in zip(second.init_kernels, saved_anchors):
      self.assertAllClose(got, want)
    self.assertAllClose(second.losses, first.losses)

  def test_residual_anchor_follows_the_input_geometry(self):
    cfg = EmbeddingModelConfig(modalities=(ModalityConfig("rgb", 5),), hidden_units=(4,),
                               embedding_dim=2, tower="residual", pull_to_init=1.0)
    model = EmbeddingModel(cfg)
    x = inputs(np.random.default_rng(7), 20, (ModalityConfig("rgb", 5),))
    model(x)
    model.snapshot_init()
    projection = model.set_input_geometry({"rgb": x["rgb"].numpy()})
    self.assertAllClose(model.init_kernels[0], projection)
    self.assertAllClose(model.losses, [0.0])

  def test_trainer_resume_keeps_the_anchors_of_the_first_run(self):
    # The residual tower's W0 is the input geometry set on the fresh run; a resumed
    # run builds a new (random) projection, and the checkpoint must bring W0 back.
    data = write_shards(self.create_tempdir().full_path, "triplets",
                        triplet_records(600, np.random.default_rng(8)))
    model_cfg = EmbeddingModelConfig.demo(
        modalities=tuple(ModalityConfig(n, d) for n, d in MODS), hidden_units=(8,),
        embedding_dim=4, tower="residual", pull_to_init=0.1)
    cfg = TrainConfig.from_flags(preset="demo", mode="triplet", train_data=data, model=model_cfg,
                                 model_dir=self.create_tempdir().full_path, batch_size=32,
                                 train_steps=4, checkpoint_every=2, shuffle_buffer=64)
    first = trainer.train(cfg)
    anchor = first.model.init_kernels[0].numpy()
    self.assertAllClose(anchor.T @ anchor, np.eye(4), atol=1e-5)  # principal directions
    self.assertGreater(float(first.model.pull_to_init_loss()), 0.0)
    more = trainer.train(dataclasses.replace(
        cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=6)))
    self.assertEqual((more.start_step, more.final_step), (4, 6))
    self.assertAllEqual(more.model.init_kernels[0], anchor)

  def test_clc_class_table_has_the_embedding_size(self):
    cfg = TrainConfig(data=DataConfig(train_data="x"),
                      runtime=RuntimeConfig(model_dir=self.create_tempdir().full_path),
                      trainer=TrainerConfig(mode="clc", num_classes=5),
                      model=EmbeddingModelConfig.demo(modalities=SMALL, tower="identity_linear"))
    objs = train_objects.TrainObjects(cfg, tf.distribute.get_strategy())
    self.assertEqual(tuple(objs.table.embeddings.shape), (5, 9))

  def test_mirrored_step_counts_the_penalty_once(self):
    # Each replica adds the penalty to its share of the loss; summed over the 2
    # replicas it must count once, as on one device (loss and update alike).
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(MIRRORED_CHECK)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    single, mirrored = out["single"], out["mirrored"]
    self.assertEqual((single["replicas"], mirrored["replicas"]), (1, 2))
    self.assertGreater(single["penalty"], 0.1)  # the pull is a visible part of the loss
    self.assertAllClose(mirrored["loss"], single["loss"], atol=1e-5)
    self.assertAllClose(mirrored["kernel"], single["kernel"], atol=1e-6)


if __name__ == "__main__":
  tf.test.main()
