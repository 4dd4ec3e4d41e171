"""`launch/tf_config.py`: the TF_CONFIG dict of one task, its errors, and `python -m
launch.tf_config` printing it."""

import json
import os
import pathlib
import subprocess
import sys

import tensorflow as tf

from launch.tf_config import main as tf_config_main
from launch.tf_config import tf_config

ROOT = pathlib.Path(__file__).resolve().parents[2]


class TfConfigTest(tf.test.TestCase):

  def test_tf_config(self):
    cfg = tf_config("a:1,b:2", 1)
    self.assertEqual(cfg, {"cluster": {"worker": ["a:1", "b:2"]},
                           "task": {"type": "worker", "index": 1}})
    cfg = tf_config(["a:1", "b:2"], 0, ps="c:3", chief="d:4", task_type="ps")
    self.assertEqual(cfg["cluster"], {"worker": ["a:1", "b:2"], "ps": ["c:3"], "chief": ["d:4"]})
    self.assertEqual(cfg["task"], {"type": "ps", "index": 0})
    for bad in (dict(hosts="a:1", index=1), dict(hosts="a", index=0), dict(hosts="", index=0),
                dict(hosts="a:1", index=0, task_type="ps")):
      with self.assertRaises(ValueError):
        tf_config(**bad)
    proc = subprocess.run([sys.executable, "-m", "launch.tf_config", "--hosts=h1:5,h2:6",
                           "--index=0", "--ps=h3:7"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    self.assertEqual(proc.returncode, 0, proc.stderr)
    self.assertEqual(json.loads(proc.stdout)["cluster"]["ps"], ["h3:7"])
    self.assertEqual(tf_config_main(["--hosts=h1:5", "--index=3"]), 2)


if __name__ == "__main__":
  tf.test.main()
