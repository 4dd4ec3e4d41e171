"""Semi-hard mining under MirroredStrategy (2 logical CPUs) equals one device.

Logical devices can only be configured before TensorFlow initialises its
devices, which other tests in this process have already done, so the check
runs in a fresh interpreter (tests/model/mirrored_mining_check.py).
"""

import json
import os
import pathlib
import subprocess
import sys

import tensorflow as tf

SCRIPT = pathlib.Path(__file__).with_name("mirrored_mining_check.py")
ROOT = pathlib.Path(__file__).resolve().parents[3]


class MirroredMiningTest(tf.test.TestCase):

  def test_global_batch_matches_single_device(self):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    self.assertEqual(result["num_replicas"], 2)
    for key in ("ids", "positional"):
      r = result[key]
      self.assertGreater(r["loss_single"], 0.0)
      self.assertGreater(r["grad_norm"], 0.0)
      self.assertLess(r["loss_diff"], 1e-12, key)
      self.assertLess(r["grad_diff"], 1e-12, key)
      self.assertLess(r["diag_diff"], 1e-12, key)
      # Control: mining within each replica only gives another loss, so the
      # equality above does depend on the global candidate pool.
      self.assertGreater(abs(r["loss_local_only"] - r["loss_single"]), 1e-6, key)
    # Duplicate ids change the candidates, so the two runs differ.
    self.assertNotAlmostEqual(result["ids"]["loss_single"], result["positional"]["loss_single"])


if __name__ == "__main__":
  tf.test.main()
