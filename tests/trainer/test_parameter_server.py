"""`--strategy=parameter_server`: CLC training on an in-process cluster (2 workers,
2 ps) with the class table sharded over the ps, in a subprocess with a timeout
(ps_train_check.py) so that a hang fails the test instead of blocking pytest."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests.trainer.shards import write_shards
from tests.trainer.test_train import _labels

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = pathlib.Path(__file__).with_name("ps_train_check.py")
STEPS = 40


class ParameterServerTest(tf.test.TestCase):

  def test_clc_partitioned_table(self):
    d = self.create_tempdir().full_path
    recs = _labels(400, np.random.default_rng(5))
    write_shards(d, "l", recs)
    model_dir = self.create_tempdir().full_path
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, str(CHECK), os.path.join(d, "l-*.tfrecord"),
                             model_dir, str(STEPS)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
      out, err = proc.communicate(timeout=240)
    finally:
      if proc.poll() is None:
        proc.kill()
        proc.communicate()
    self.assertEqual(proc.returncode, 0, err[-3000:])
    r = json.loads(out.strip().splitlines()[-1])
    self.assertEqual(r["table_shards"], [[3, 16], [3, 16]])  # 6 classes over 2 ps
    self.assertCountEqual([dev.split("/device")[0] for dev in r["table_devices"]],
                          ["/job:ps/replica:0/task:0", "/job:ps/replica:0/task:1"])
    self.assertEqual((r["start"], r["final"]), (0, STEPS))
    losses = r["losses"]  # the last step of each 10-step chunk
    self.assertLen(losses, STEPS // 10)
    self.assertTrue(np.all(np.isfinite(losses)))
    self.assertLess(losses[-1], losses[0])
    self.assertTrue(r["exported"])
    self.assertEqual(r["export_dir"], os.path.join(model_dir, "export"))
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
                     os.path.join(model_dir, "checkpoints", f"ckpt-{STEPS}"))


if __name__ == "__main__":
  tf.test.main()
