"""Model config and towers: validation, shapes, fusion maths, SavedModel export."""

import dataclasses
import json

import numpy as np
import tensorflow as tf

from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.export import export_saved_model
from model.towers import EmbeddingModel, principal_directions

SMALL = (ModalityConfig("rgb", 6), ModalityConfig("audio", 3))


def inputs(rng, batch, modalities=SMALL):
  return {m.name: tf.constant(rng.normal(size=(batch, m.dim)), tf.float32) for m in modalities}


def dense(x, layer):
  return x @ layer.kernel.numpy() + layer.bias.numpy()


class ConfigTest(tf.test.TestCase):

  def test_defaults_are_the_paper(self):
    c = EmbeddingModelConfig.paper().validate()
    self.assertEqual(c.modality_names, ("mean_rgb", "mean_audio"))
    self.assertEqual([m.dim for m in c.modalities], [1024, 128])
    self.assertEqual((c.hidden_units, c.embedding_dim, c.fusion), ((4000,), 256, "late"))
    d = EmbeddingModelConfig.demo()
    self.assertEqual((d.hidden_units, d.embedding_dim), ((256,), 64))
    self.assertEqual(EmbeddingModelConfig.demo(fusion="early").fusion, "early")

  def test_round_trip(self):
    c = EmbeddingModelConfig.demo(modalities=SMALL, hidden_units=(8, 4))
    self.assertEqual(EmbeddingModelConfig.from_dict(c.to_dict()), c)
    with self.assertRaises(ConfigError):
      EmbeddingModelConfig.from_dict({"hidden": [3]})

  def test_validate_rejects(self):
    bad = [dict(modalities=()), dict(modalities=(ModalityConfig("a", 0),)),
           dict(modalities=(ModalityConfig("a", 2), ModalityConfig("a", 3))),
           dict(hidden_units=(0,)), dict(hidden_units=(2.5,)), dict(embedding_dim=0),
           dict(fusion="middle"), dict(activation="nope"), dict(projection_activation="nope"),
           dict(dropout=1.0), dict(embedding_dim=True), dict(tower="deep"),
           dict(input_norm="max")]
    for kw in bad:
      with self.subTest(kw=kw), self.assertRaises(ConfigError):
        dataclasses.replace(EmbeddingModelConfig(), **kw).validate()
    with self.assertRaises(ConfigError):  # the model validates too
      EmbeddingModel(EmbeddingModelConfig(fusion="middle"))


class TowersTest(tf.test.TestCase):

  def test_late_fusion_maths(self):
    rng = np.random.default_rng(0)
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(16, 8), embedding_dim=3)
    model = EmbeddingModel(cfg)
    x = inputs(rng, 7)
    out = model(x).numpy()
    towers = []
    for m, tower in zip(SMALL, model.towers):
      h = x[m.name].numpy()
      for layer in tower[:-1]:
        h = np.maximum(dense(h, layer), 0.0)
      towers.append(dense(h, tower[-1]))  # linear projection
    fused = towers[0] * towers[1]
    expected = fused / np.sqrt(np.maximum(np.sum(fused**2, 1, keepdims=True), 1e-12))
    self.assertAllClose(out, expected, atol=1e-5)
    self.assertAllClose(np.linalg.norm(out, axis=1), np.ones(7), atol=1e-5)
    self.assertEqual(len(model.trainable_variables), 2 * 2 * 3)

  def test_early_fusion_maths(self):
    rng = np.random.default_rng(1)
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(5,), embedding_dim=4,
                               fusion="early", activation="tanh")
    model = EmbeddingModel(cfg)
    x = inputs(rng, 3)
    out = model(x).numpy()
    hidden, proj = model.towers[0]
    self.assertEqual(hidden.kernel.shape, (9, 5))
    h = np.tanh(dense(np.concatenate([x["rgb"].numpy(), x["audio"].numpy()], 1), hidden))
    e = dense(h, proj)
    self.assertAllClose(out, e / np.linalg.norm(e, axis=1, keepdims=True), atol=1e-5)

  def test_bad_inputs(self):
    model = EmbeddingModel(EmbeddingModelConfig(modalities=SMALL, hidden_units=(4,),
                                                embedding_dim=2))
    with self.assertRaises(ConfigError):
      model({"rgb": tf.zeros([2, 6])})
    with self.assertRaises(ConfigError):
      model({"rgb": tf.zeros([2, 5]), "audio": tf.zeros([2, 3])})

  def test_demo_shapes_and_extra_keys(self):
    model = EmbeddingModel(EmbeddingModelConfig.demo(dropout=0.1))
    x = inputs(np.random.default_rng(2), 4, EmbeddingModelConfig.demo().modalities)
    x["id"] = tf.constant(["a", "b", "c", "d"])
    out = model(x, training=True)
    self.assertEqual(out.shape, (4, 64))

  def test_saved_model_round_trip(self):
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(4,), embedding_dim=3)
    model = EmbeddingModel(cfg)
    x = inputs(np.random.default_rng(3), 5)
    expected = model(x)
    serve = tf.function(lambda feats: {"embedding": model(feats, training=False)},
                        input_signature=[model.input_signature()])
    path = self.get_temp_dir() + "/saved"
    tf.saved_model.save(model, path, signatures={"serving_default": serve})
    loaded = tf.saved_model.load(path)
    got = loaded.signatures["serving_default"](**x)["embedding"]
    self.assertAllClose(got, expected, atol=1e-6)

  def test_config_round_trips_through_json(self):
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(4, 3), embedding_dim=5,
                               tower="residual", pull_to_init=0.5, dropout=0.25)
    model = EmbeddingModel(cfg, name="video_model")
    saved = json.loads(json.dumps(model.get_config()))
    self.assertEqual(saved["name"], "video_model")
    self.assertEqual(saved["config"]["hidden_units"], [4, 3])
    self.assertEqual(saved["config"]["modalities"],
                     [{"name": "rgb", "dim": 6}, {"name": "audio", "dim": 3}])
    copy = EmbeddingModel.from_config(saved)
    self.assertEqual((copy.config, copy.name), (cfg, "video_model"))
    x = inputs(np.random.default_rng(4), 3)
    model(x)
    copy(x)
    copy.set_weights(model.get_weights())  # same architecture: the same variables, in order
    self.assertAllClose(copy(x), model(x), atol=0)

  def test_export_warns_of_no_missing_get_config(self):
    model = EmbeddingModel(EmbeddingModelConfig(modalities=SMALL, hidden_units=(4,),
                                                embedding_dim=3))
    model(inputs(np.random.default_rng(5), 2))
    with self.assertNoLogs("tensorflow", level="WARNING"):
      export_saved_model(model, self.get_temp_dir() + "/export")


def raw_cosine_inputs(x):
  """The raw-feature baseline's vector: each modality normalised, concatenated."""
  parts = [v.numpy() / np.linalg.norm(v.numpy(), axis=1, keepdims=True) for v in x.values()]
  joined = np.concatenate(parts, axis=1)
  return joined / np.linalg.norm(joined, axis=1, keepdims=True)


class ResidualTowerTest(tf.test.TestCase):

  def test_untrained_with_room_for_the_input_is_the_raw_geometry(self):
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(8,), embedding_dim=12,
                               tower="residual")
    x = inputs(np.random.default_rng(4), 6)
    out = EmbeddingModel(cfg)(x).numpy()
    want = np.zeros((6, 12))
    want[:, :9] = raw_cosine_inputs(x)  # identity into the first 9 of 12 dimensions
    self.assertAllClose(out, want, atol=1e-6)

  def test_input_geometry_keeps_inner_products_of_a_low_rank_sample(self):
    # Inputs that span 3 of 9 dimensions: a 3-d projection onto the principal
    # directions keeps every cosine exactly.
    rng = np.random.default_rng(5)
    basis = np.linalg.qr(rng.normal(size=(9, 3)))[0].T  # [3, 9], orthonormal rows
    x = {"rgb": tf.constant(rng.normal(size=(40, 3)) @ basis, tf.float32)}
    cfg = EmbeddingModelConfig(modalities=(ModalityConfig("rgb", 9),), hidden_units=(8,),
                               embedding_dim=3, tower="residual")
    model = EmbeddingModel(cfg)
    projection = model.set_input_geometry({k: v.numpy() for k, v in x.items()})
    self.assertAllClose(projection.T @ projection, np.eye(3), atol=1e-5)
    out = model(x).numpy()
    raw = raw_cosine_inputs(x)
    self.assertAllClose(out @ out.T, raw @ raw.T, atol=1e-4)

  def test_principal_directions_pick_the_dominant_axes(self):
    x = np.array([[3.0, 0.0, 0.1], [-3.0, 0.0, 0.2], [0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    p = principal_directions(x, 2)
    self.assertAllClose(np.abs(p[:, 0]), [1.0, 0.0, 0.0], atol=0.03)
    self.assertAllClose(np.abs(p[:, 1]), [0.0, 1.0, 0.0], atol=0.03)
    self.assertAllClose(principal_directions(x, 4), np.eye(3, 4))

  def test_input_norm_l2_ignores_the_scale_of_each_modality(self):
    cfg = EmbeddingModelConfig(modalities=SMALL, hidden_units=(8,), embedding_dim=3,
                               input_norm="l2")
    model = EmbeddingModel(cfg)
    x = inputs(np.random.default_rng(6), 5)
    scaled = {"rgb": x["rgb"] * 7.0, "audio": x["audio"] * 0.01}
    self.assertAllClose(model(x), model(scaled), atol=1e-5)


if __name__ == "__main__":
  tf.test.main()
