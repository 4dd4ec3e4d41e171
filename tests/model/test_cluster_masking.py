"""gcml train --mode=contrastive --cluster_masking: the triplets' cluster ids reach the loss."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow as tf

from model import input as input_lib
from model import trainer
from model.errors import ConfigError
from model.losses.retrieval import UNKNOWN_CLUSTER
from model.trainer_config import TrainConfig
from pipelines.io import tf_example
from tests.model.shards import write_shards
from tests.model.training_records import MODS, small_model_config

CHECK = pathlib.Path(__file__).with_name("mirrored_contrastive_check.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _triplets(n, clusters, rng):
  """Random triplets; anchor i and its positive in cluster `clusters(i)` (None: no field)."""
  records = []
  for i in range(n):
    rec = {"level": [0]}
    for role in ("anchor", "positive", "negative"):
      rec[f"{role}/id"] = f"v{i}-{role}"
      for name, dim in MODS:
        rec[f"{role}/{name}"] = rng.normal(size=dim).astype(np.float32)
    if clusters is not None:
      rec["anchor/cluster"] = rec["positive/cluster"] = clusters(i)
    records.append(tf_example.encode(rec))
  return records


class ClusterMaskingTest(tf.test.TestCase):

  def _train(self, clusters, **kw):
    d = self.create_tempdir().full_path
    data = write_shards(d, "triplets", _triplets(96, clusters, np.random.default_rng(0)))
    cfg = TrainConfig.from_flags(preset="demo", mode="contrastive", train_data=data,
                                 model=small_model_config(), batch_size=32, train_steps=3,
                                 model_dir=self.create_tempdir().full_path, deterministic=True,
                                 **kw).validate()
    return trainer.train(cfg)

  def test_one_cluster_masks_every_negative(self):
    # Every anchor and positive in cluster "c": each row keeps only its label, loss 0.
    result = self._train(lambda i: "c", cluster_masking=True)
    self.assertAllEqual([l for _, l in result.losses], [0.0, 0.0, 0.0])

  def test_distinct_clusters_mask_nothing(self):
    masked = self._train(lambda i: f"c{i}", cluster_masking=True)
    plain = self._train(lambda i: f"c{i}")
    self.assertAllClose([l for _, l in masked.losses], [l for _, l in plain.losses])
    self.assertGreater(masked.losses[0][1], 1.0)

  def test_records_without_clusters_fail_in_one_line(self):
    with self.assertRaisesRegex(ConfigError, "no anchor/cluster.*--cluster_id_level"):
      self._train(None, cluster_masking=True)

  def test_only_for_contrastive(self):
    with self.assertRaisesRegex(ConfigError, "--cluster_masking is for --mode=contrastive"):
      TrainConfig.from_flags(preset="demo", mode="triplet", train_data=__file__,
                             model_dir="x", cluster_masking=True).validate()

  def test_input_hashes_cluster_ids_and_empty_is_unknown(self):
    d = self.create_tempdir().full_path
    names = ["a", "", "a", "b"]
    data = write_shards(d, "t", _triplets(4, lambda i: names[i], np.random.default_rng(1)),
                        num_shards=1)
    batch = next(iter(input_lib.make_dataset(input_lib.InputConfig(
        data, "triplet", MODS, batch_size=4, shuffle_buffer=0, with_clusters=True))))
    got = batch["anchor_cluster"].numpy()  # one shard, unshuffled: file order
    self.assertEqual(got[1], UNKNOWN_CLUSTER)
    self.assertEqual(got[0], got[2])
    self.assertNotEqual(got[0], got[3])
    self.assertAllEqual(got, batch["positive_cluster"].numpy())

  def test_under_mirrored_strategy(self):
    globs = []
    for clusters in (lambda i: "c", lambda i: f"c{i}"):
      d = self.create_tempdir().full_path
      globs.append(write_shards(d, "t", _triplets(96, clusters, np.random.default_rng(0))))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, str(CHECK), *globs, self.create_tempdir().full_path],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    self.assertAllEqual(out["one_cluster"], [0.0, 0.0, 0.0])  # every negative masked
    self.assertLen(out["distinct"], 3)
    self.assertGreater(min(out["distinct"]), 1.0)
