"""--sampler for CLC training: unigram from classes.tsv sizes, the default and the paper preset."""

import os

import numpy as np
import tensorflow as tf

from model import trainer
from model.errors import ConfigError
from model.trainer_config import TrainConfig
from tests.model.shards import write_shards
from tests.model.training_records import K, labelled_records, small_model_config


class ClcSamplerTest(tf.test.TestCase):

  def _data(self, sizes):
    d = self.create_tempdir().full_path
    data = write_shards(d, "labels", labelled_records(200, np.random.default_rng(21)))
    with open(os.path.join(d, "classes.tsv"), "w") as f:
      f.write("label\tcluster\tsize\n" + "".join(f"{c}\tc{c}\t{n}\n" for c, n in enumerate(sizes)))
    return data

  def _config(self, data, **kw):
    return TrainConfig.from_flags(preset="demo", mode="clc", train_data=data, model=small_model_config(),
                                  model_dir=self.create_tempdir().full_path, batch_size=32,
                                  shuffle_buffer=64, num_sampled=3, learning_rate=0.05, **kw)

  def test_unigram_reads_classes_tsv_and_trains(self):
    sizes = [50, 1, 7, 20, 3, 9]
    cfg = self._config(self._data(sizes), sampler="unigram", train_steps=12,
                       steps_per_loop=4).validate()
    self.assertEqual(cfg.class_sizes(), sizes)
    result = trainer.train(cfg)
    self.assertEqual(result.final_step, 12)
    self.assertTrue(all(np.isfinite(l) for _, l in result.losses))
    self.assertIsNotNone(result.export_dir)

  def test_unigram_needs_a_size_for_every_label(self):
    data = self._data([5, 0, 3, 1, 1, 1])
    with self.assertRaisesRegex(ConfigError, "label 1 has none"):
      self._config(data, sampler="unigram").validate()
    self._config(data).validate()  # uniform does not read the sizes

  def test_default_and_paper_preset_sample_uniformly(self):
    self.assertEqual(TrainConfig().trainer.sampler, "uniform")
    self.assertEqual(TrainConfig.from_flags(preset="paper", mode="clc").trainer.sampler, "uniform")
    self.assertEqual(TrainConfig.from_flags(preset="paper", mode="clc",
                                            sampler="log_uniform").trainer.sampler, "log_uniform")
    self.assertEqual(K, 6)


if __name__ == "__main__":
  tf.test.main()
