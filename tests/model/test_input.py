"""tf.data input over contracts 5 and 6."""

import numpy as np
import tensorflow as tf

from model import input as input_lib
from model.errors import ConfigError
from model.losses import hash_ids
from pipelines.io import sharded_io, tf_example

MODS = (("mean_rgb", 3), ("mean_audio", 2))


def _triplet(i: int) -> bytes:
  rec = {"level": [i % 3]}
  for k, role in enumerate(input_lib.TRIPLET_ROLES):
    rec[f"{role}/id"] = f"v{i}-{role}"
    rec[f"{role}/mean_rgb"] = np.full(3, i + k / 10, np.float32)
    rec[f"{role}/mean_audio"] = np.full(2, -i, np.float32)
  return tf_example.encode(rec)


class InputTest(tf.test.TestCase):

  def _write(self, records, shards):
    prefix = self.create_tempdir().full_path + "/triplets"
    sharded_io.write_sorted_shards_local([(f"{i:04d}", r) for i, r in enumerate(records)], prefix,
                                         ".tfrecord", shards, record_format=sharded_io.TFRECORD)
    return prefix + "-*.tfrecord"

  def test_triplets_parse_exactly(self):
    pattern = self._write([_triplet(i) for i in range(10)], shards=1)
    config = input_lib.InputConfig(pattern, "triplet", MODS, batch_size=4, shuffle_buffer=0,
                                   repeat=False)
    batches = list(input_lib.make_dataset(config))
    self.assertLen(batches, 2)  # 10 examples, batch 4, remainder dropped
    first = batches[0]
    self.assertEqual(first["anchor"]["mean_rgb"].shape, (4, 3))
    np.testing.assert_allclose(first["positive"]["mean_rgb"][1], np.full(3, 1.1, np.float32))
    self.assertAllEqual(first["level"], [0, 1, 2, 0])
    self.assertEqual(first["anchor_id"].dtype, tf.int64)
    again = hash_ids(tf.constant(["v0-anchor", "v1-anchor"]))
    self.assertAllEqual(first["anchor_id"][:2], again)
    self.assertNotEqual(int(first["anchor_id"][0]), int(first["positive_id"][0]))

  def test_labels_parse(self):
    recs = [tf_example.encode({"id": f"v{i}", "mean_rgb": np.ones(3, np.float32) * i,
                               "mean_audio": np.zeros(2, np.float32), "label": [i]})
            for i in range(6)]
    pattern = self._write(recs, shards=2)
    config = input_lib.InputConfig(pattern, "labels", MODS, batch_size=6, shuffle_buffer=0,
                                   repeat=False)
    (batch,) = list(input_lib.make_dataset(config))
    self.assertCountEqual(batch["label"].numpy().tolist(), range(6))
    for label, rgb in zip(batch["label"].numpy(), batch["features"]["mean_rgb"].numpy()):
      np.testing.assert_array_equal(rgb, np.full(3, label, np.float32))

  def test_each_input_pipeline_reads_its_own_files(self):
    pattern = self._write([_triplet(i) for i in range(40)], shards=4)
    seen = []
    for worker in range(2):
      context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=worker)
      config = input_lib.InputConfig(pattern, "triplet", MODS, batch_size=1, shuffle_buffer=0,
                                     repeat=False)
      seen.append({int(b["anchor"]["mean_audio"][0, 0])  # -i identifies example i
                   for b in input_lib.make_dataset(config, context)})
    self.assertEmpty(seen[0] & seen[1])
    self.assertLen(seen[0] | seen[1], 40)

  def test_errors(self):
    with self.assertRaisesRegex(ConfigError, "no file matches"):
      input_lib.make_dataset(input_lib.InputConfig("/nonexistent/*.tfrecord"))
    with self.assertRaisesRegex(ConfigError, "batch size"):
      input_lib.make_dataset(input_lib.InputConfig("x", batch_size=0))
    pattern = self._write([_triplet(0)], shards=1)
    with self.assertRaisesRegex(ConfigError, "cannot feed 2 input pipelines"):
      input_lib.make_dataset(input_lib.InputConfig(pattern, modalities=MODS),
                             tf.distribute.InputContext(2, 0))


if __name__ == "__main__":
  tf.test.main()
