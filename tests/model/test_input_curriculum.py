"""The level curriculum (`model/input_curriculum.py`, through `model/input.py`): phases of the
run read one level each."""

import numpy as np
import tensorflow as tf

from model import input as input_lib
from model.errors import ConfigError
from pipelines.io import tf_example
from tests.model.shards import write_shards

MODS = (("mean_rgb", 2),)


def _records(levels, n_per_level=30):
  out = []
  for level in levels:
    for i in range(n_per_level):
      rec = {"level": [level]}
      for role in ("anchor", "positive", "negative"):
        rec[f"{role}/id"] = f"l{level}-{i}-{role}"
        rec[f"{role}/mean_rgb"] = np.zeros(2, np.float32)
      out.append(tf_example.encode(rec))
  return out


class LevelCurriculumTest(tf.test.TestCase):

  def _config(self, data, **kw):
    return input_lib.InputConfig(data, "triplet", MODS, batch_size=4, shuffle_buffer=0,
                                 level_schedule=(2, 1, 0), schedule_steps=6, **kw)

  def test_each_phase_reads_its_level_in_order(self):
    data = write_shards(self.create_tempdir().full_path, "triplets", _records([0, 1, 2]))
    batches = list(input_lib.make_dataset(self._config(data)).take(8))
    levels = [sorted(set(b["level"].numpy().tolist())) for b in batches]
    # Steps 0-1 read level 2, steps 2-3 level 1, steps 4 onwards level 0.
    self.assertEqual(levels, [[2], [2], [1], [1], [0], [0], [0], [0]])

  def test_a_resumed_run_starts_in_its_phase(self):
    data = write_shards(self.create_tempdir().full_path, "triplets", _records([0, 1, 2]))
    batches = list(input_lib.make_dataset(self._config(data, start_step=3)).take(3))
    self.assertEqual([sorted(set(b["level"].numpy().tolist())) for b in batches],
                     [[1], [0], [0]])

  def test_a_scheduled_level_without_triplets_is_one_line(self):
    data = write_shards(self.create_tempdir().full_path, "triplets", _records([0, 1]))
    with self.assertRaisesRegex(ConfigError, r"no triplet of level \[2\].*--all_levels"):
      input_lib.make_dataset(self._config(data))


if __name__ == "__main__":
  tf.test.main()
