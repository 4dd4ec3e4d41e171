"""`model/validation.py`: the validation set read once (per process while its files are
unchanged) and scored like `gcml evaluate`, and its one-line errors."""

import os

import numpy as np
import tensorflow as tf

from model.errors import ConfigError
from model import validation
from model.validation import ValidationSet
from pipelines.io import sharded_io, tf_example
from tests.model.validation_items import GROUPS, MODS, write_validation_set


class ValidationSetTest(tf.test.TestCase):

  def test_validation_set_scores_raw_features_like_evaluate(self):
    d = write_validation_set(self.create_tempdir().full_path, np.random.default_rng(1))
    vs = ValidationSet(d, MODS)
    raw = vs.raw_scores()
    self.assertEqual(raw["num_queries"], GROUPS * 6)
    self.assertGreater(raw["map@60"], 0.5)  # groups are well separated
    with self.assertRaisesRegex(ConfigError, "no items-"):
      ValidationSet(self.create_tempdir().full_path, MODS)

  def test_load_reads_a_set_once_until_its_files_change(self):
    d = write_validation_set(self.create_tempdir().full_path, np.random.default_rng(1))
    first = validation.load(d, MODS)
    self.assertIs(validation.load(d, MODS), first)  # the demo's later runs
    self.assertEqual(first.raw_scores(), ValidationSet(d, MODS).raw_scores())
    self.assertIsNot(validation.load(d, MODS[:1]), first)  # other modalities
    first = validation.load(d, MODS)
    write_validation_set(d, np.random.default_rng(2), per_group=3)  # a new set in its place
    again = validation.load(d, MODS)
    self.assertIsNot(again, first)
    self.assertEqual(again.raw_scores()["num_queries"], GROUPS * 3)

  def test_non_finite_embeddings_are_one_line(self):
    vs = ValidationSet(write_validation_set(self.create_tempdir().full_path,
                                            np.random.default_rng(1)), MODS)
    with self.assertRaisesRegex(ConfigError, r"^validation: the model's embeddings are not finite$"):
      vs.score(lambda batch: np.full((len(batch["mean_rgb"]), 2), np.nan))

  def test_items_without_the_models_features_are_one_line(self):
    d = write_validation_set(self.create_tempdir().full_path, np.random.default_rng(1))
    with self.assertRaisesRegex(ConfigError, r"items do not carry the model's features "
                                             r"\['mean_rgb', 'depth'\]"):
      ValidationSet(d, (("mean_rgb", 6), ("depth", 2)))

  def test_a_set_without_edges_between_its_items_is_one_line(self):
    d = self.create_tempdir().full_path
    records = [(i, tf_example.encode({"id": i, "mean_rgb": np.ones(6, np.float32),
                                      "mean_audio": np.ones(3, np.float32)})) for i in "ab"]
    sharded_io.write_sorted_shards_local(records, os.path.join(d, "items"), ".tfrecord", 1,
                                         record_format=sharded_io.TFRECORD)
    sharded_io.write_sorted_shards_local([("a\tz", "a\tz")], os.path.join(d, "edges"), ".tsv",
                                         1, header="src\tdst")
    with self.assertRaisesRegex(ConfigError, "no validation item has a related"):
      ValidationSet(d, MODS)


if __name__ == "__main__":
  tf.test.main()
