"""`gcml train` (`launch/train.py`): flags, `--help` text (every flag has its help and, where set,
its default), errors (one line, exit 2) and mirrored over 2 logical CPUs."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from launch import train
from launch.train import config_from_argv
from model.errors import ConfigError
from pipelines.config_flags import attribute_help
from tests.model.shards import write_shards
from tests.model.training_records import labelled_records, triplet_records

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = pathlib.Path(__file__).with_name("mirrored_train_check.py")


def _run(args, timeout=240):
  env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=timeout)


class LaunchTrainTest(tf.test.TestCase):

  def _write(self, records, name):
    return write_shards(self.create_tempdir().full_path, name, records)

  def test_flags_override_preset(self):
    data = self._write(triplet_records(8, np.random.default_rng(0)), "t")
    cfg, _ = config_from_argv(["--preset=paper", "--mode=triplet", f"--train_data={data}",
                               "--model_dir=/tmp/x", "--learning_rate=0.5",
                               "--modalities=a:3,b:2", "--hidden_units=8,4"])
    t = cfg.trainer
    self.assertEqual((t.optimizer, t.learning_rate, t.batch_size), ("rmsprop", 0.5, 9600))
    self.assertEqual(cfg.modalities, (("a", 3), ("b", 2)))
    self.assertEqual(cfg.model.hidden_units, (8, 4))
    self.assertEqual(cfg.model.embedding_dim, 256)
    with self.assertRaisesRegex(ConfigError, "--strategy"):
      config_from_argv([f"--train_data={data}", "--model_dir=/tmp/x", "--strategy=nope"])

  def test_cli_error_is_one_line_exit_2(self):
    proc = _run(["-m", "launch.train", "--mode=triplet", "--train_data=/nonexistent/*.tfrecord",
                 "--model_dir=/tmp/x"], timeout=120)
    self.assertEqual(proc.returncode, 2, proc.stderr)
    self.assertEqual(proc.stderr.strip().splitlines(),
                     ["gcml train: error: --train_data: no file matches /nonexistent/*.tfrecord"])

  @pytest.mark.slow
  def test_deterministic_runs_give_identical_weights(self):
    data = write_shards(self.create_tempdir().full_path, "t",
                        triplet_records(400, np.random.default_rng(7)), num_shards=4)
    flags = ["-m", "launch.train", "--deterministic", "--mode=triplet", f"--train_data={data}",
             "--train_steps=30", "--batch_size=32", "--shuffle_buffer=64", "--seed=3",
             "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32", "--embedding_dim=16"]
    weights = []
    for _ in range(2):
      model_dir = self.create_tempdir().full_path
      proc = _run([*flags, f"--model_dir={model_dir}"])
      self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
      # TensorFlow's native start-up lines are not on the console (`launch/tf_startup.py`).
      self.assertNotRegex(proc.stderr, r"(?m)^([IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|"
                                       r"WARNING: All log messages before)")
      reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
      names = sorted(n for n in reader.get_variable_to_shape_map() if "/.ATTRIBUTES/" in n)
      weights.append({n: reader.get_tensor(n) for n in names})
    self.assertEqual(sorted(weights[0]), sorted(weights[1]))
    self.assertGreater(len(weights[0]), 4)
    for name, value in weights[0].items():
      np.testing.assert_array_equal(value, weights[1][name], err_msg=name)
    with self.assertRaisesRegex(ConfigError, "--deterministic is not possible"):
      config_from_argv([f"--train_data={data}", "--model_dir=/tmp/x", "--deterministic",
                        "--strategy=parameter_server"])

  @pytest.mark.slow
  def test_mirrored_two_logical_cpus(self):
    rng = np.random.default_rng(5)
    data = self._write(triplet_records(200, rng), "t")
    labels = self._write(labelled_records(200, rng), "l")
    proc = _run([str(CHECK), data, labels, self.create_tempdir().full_path])
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    self.assertEqual(out["replicas"], 2)
    t = out["triplet"]
    self.assertEqual((t["start"], t["final"]), (0, 8))
    self.assertTrue(all(np.isfinite(t["losses"])))
    self.assertTrue(t["exported"])
    self.assertBetween(t["metrics"]["usage_ratio"], 0.0, 1.0)
    self.assertBetween(t["eval"]["triplet_accuracy"], 0.0, 1.0)  # summed over the 2 replicas
    self.assertTrue(np.isfinite(t["eval"]["loss"]))
    self.assertEqual(out["resume"], {"start": 8, "final": 10})
    self.assertEqual(out["clc"]["final"], 4)
    self.assertTrue(all(np.isfinite(out["clc"]["losses"])))
    self.assertEqual((out["clc_skip"]["start"], out["clc_skip"]["final"]), (4, 8))
    self.assertLen(out["clc_skip"]["losses"], 4)
    self.assertTrue(all(np.isfinite(out["clc_skip"]["losses"])))
    self.assertIn("not divisible by the 2 replicas", out["odd_batch_error"])



def test_every_config_flag_has_help():
  actions = {a.dest: a for a in train.parser()._actions}  # pylint: disable=protected-access
  missing = [name for name in train._FIELDS if name != "tpu" and not actions[name].help]  # pylint: disable=protected-access
  assert not missing, missing


def test_help_shows_the_demo_default():
  actions = {a.dest: a for a in train.parser()._actions}  # pylint: disable=protected-access
  assert actions["batch_size"].help == (
      "GLOBAL batch size (divided over the replicas). [demo preset: 64]")
  assert actions["margin"].help.endswith("[demo preset: 0.5]")
  assert actions["modalities"].help.endswith(
      "[default: what `gcml examples` recorded beside --train_data]")


def test_entries_naming_several_fields_give_each_the_text():
  class Config:
    """Attributes:
      a / b: first
        continued.
      c, d: second.
    """
  assert attribute_help(Config) == {
      "a": "first continued.", "b": "first continued.", "c": "second.", "d": "second."}


if __name__ == "__main__":
  tf.test.main()
