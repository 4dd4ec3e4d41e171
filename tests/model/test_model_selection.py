"""Model selection on validation items: scores, the best step, early stopping, export."""

import json
import os

import numpy as np
import tensorflow as tf

from model import trainer
from model.config import EmbeddingModelConfig, ModalityConfig
from model.export import load_embedder
from model.trainer_config import TrainConfig
from model.validation import ValidationSet
from pipelines.io import tf_example
from tests.model.shards import write_shards
from tests.model.validation_items import GROUPS, MODS, group_features, write_validation_set


def _misleading_triplets(n, rng):
  """Positives from another group, negatives from the anchor's: training hurts retrieval."""
  records = []
  for i in range(n):
    ga = int(rng.integers(GROUPS))
    gp = (ga + 1 + int(rng.integers(GROUPS - 1))) % GROUPS
    rec = {"level": [0]}
    for role, g in (("anchor", ga), ("positive", gp), ("negative", ga)):
      rec[f"{role}/id"] = f"t{i}-{role}"
      rec.update({f"{role}/{k}": v for k, v in group_features(g, rng).items()})
    records.append(tf_example.encode(rec))
  return records


def _inputs(test, seed, triplets):
  """(validation folder, triplet glob, model_dir) of a fresh temporary run."""
  rng = np.random.default_rng(seed)
  root = test.create_tempdir().full_path
  validation = write_validation_set(os.path.join(root, "validation"), rng)
  data = write_shards(root, "triplets", _misleading_triplets(triplets, rng))
  return validation, data, os.path.join(root, "model")


def _model(**kw):
  return EmbeddingModelConfig.demo(modalities=tuple(ModalityConfig(n, d) for n, d in MODS), **kw)


class ModelSelectionTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    tf.keras.utils.set_random_seed(0)

  def test_misleading_training_stops_early_and_exports_the_best_step(self):
    validation, data, model_dir = _inputs(self, 2, 600)
    model = _model(hidden_units=(16,), embedding_dim=9, tower="residual")
    cfg = TrainConfig.from_flags(
        preset="demo", mode="triplet", train_data=data, model=model, batch_size=32,
        train_steps=200, learning_rate=0.03, mining="none", checkpoint_every=10,
        validation_data=validation, validate_every=10, patience=2,
        model_dir=model_dir)
    with self.assertLogs("model.model_selection", level="WARNING") as logs:
      result = trainer.train(cfg)
    self.assertIn("no trained step beat the untrained network", logs.output[0])
    v = result.validation
    # The untrained residual model (embedding_dim = input size) is the raw geometry.
    self.assertAllClose(v["history"][0], [0, v["raw"]], atol=1e-6)
    self.assertEqual(v["best_step"], 0)
    self.assertTrue(v["stopped_early"])
    self.assertEqual(result.final_step, 20)  # validations at 10 and 20 did not improve
    self.assertLess(max(s for _, s in v["history"][1:]), v["raw"])
    exported = load_embedder(result.export_dir)
    vs = ValidationSet(validation, MODS)
    self.assertAllClose(vs.score(exported)["map@60"], v["raw"], atol=1e-6)
    # A re-export (`gcml train --export_only`) gives the selected step again, not step 20.
    again = load_embedder(trainer.export(cfg))
    self.assertAllClose(vs.score(again)["map@60"], v["raw"], atol=1e-6)
    with open(os.path.join(cfg.runtime.model_dir, "validation.json"), encoding="utf-8") as f:
      self.assertEqual(json.load(f)["best_step"], 0)
    events = tf.io.gfile.glob(os.path.join(cfg.runtime.model_dir, "validation", "events.*"))
    tags = {v.tag for path in events for e in tf.compat.v1.train.summary_iterator(path)
            for v in e.summary.value}
    self.assertIn("map@60", tags)
    self.assertIn("raw_features_map@60", tags)

  def test_a_finished_run_given_validation_data_scores_its_restored_model(self):
    validation, data, model_dir = _inputs(self, 3, 200)
    model = _model(hidden_units=(8,), embedding_dim=4)
    cfg = TrainConfig.from_flags(preset="demo", mode="triplet", train_data=data, model=model,
                                 batch_size=32, train_steps=10, checkpoint_every=10,
                                 model_dir=model_dir)
    trainer.train(cfg)
    again = trainer.train(TrainConfig.from_flags(
        preset="demo", mode="triplet", train_data=data, model=model, batch_size=32,
        train_steps=10, checkpoint_every=10, validation_data=validation, model_dir=model_dir))
    self.assertEqual(again.validation["best_step"], 10)
    self.assertLen(again.validation["history"], 1)
    self.assertIsNotNone(again.export_dir)


if __name__ == "__main__":
  tf.test.main()
