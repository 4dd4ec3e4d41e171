"""`python -m launch.train` killed (SIGKILL) or stopped (SIGTERM) mid-run resumes from
the last checkpoint with the same step counter."""

import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.model.shards import write_shards
from tests.model.training_records import triplet_records

ROOT = pathlib.Path(__file__).resolve().parents[2]


class RestartTest(tf.test.TestCase):

  def setUp(self):
    super().setUp()
    d = self.create_tempdir().full_path
    write_shards(d, "t", triplet_records(200, np.random.default_rng(7)))
    self.model_dir = self.create_tempdir().full_path
    self.flags = ["--mode=triplet", f"--train_data={d}/t-*.tfrecord",
                  f"--model_dir={self.model_dir}", "--modalities=mean_rgb:8,mean_audio:4",
                  "--hidden_units=16", "--embedding_dim=8", "--batch_size=16",
                  "--checkpoint_every=5", "--summary_every=5"]
    self.env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")

  def _latest_step(self):
    latest = tf.train.latest_checkpoint(os.path.join(self.model_dir, "checkpoints"))
    return int(latest.rsplit("-", 1)[1]) if latest else 0

  def _start_and_stop(self, sig):
    proc = subprocess.Popen([sys.executable, "-m", "launch.train", *self.flags,
                             "--train_steps=1000000"], cwd=ROOT, env=self.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
      deadline = time.time() + 120
      while self._latest_step() < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
      self.assertGreaterEqual(self._latest_step(), 10, proc.poll())
      proc.send_signal(sig)
      out, err = proc.communicate(timeout=60)
    finally:
      if proc.poll() is None:
        proc.kill()
        proc.communicate()
    return proc.returncode, out, err

  def _resume(self, steps):
    proc = subprocess.run([sys.executable, "-m", "launch.train", *self.flags,
                           f"--train_steps={steps}"], cwd=ROOT, env=self.env,
                          capture_output=True, text=True, timeout=120)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    return re.search(r"trained steps (\d+)\.\.(\d+)", proc.stderr).groups(), proc.stdout

  @pytest.mark.slow
  def test_sigkill_then_resume(self):
    rc, _, _ = self._start_and_stop(signal.SIGKILL)
    self.assertEqual(rc, -signal.SIGKILL)
    saved = self._latest_step()
    self.assertEqual(saved % 5, 0)
    # The kill may land after the next checkpoint's files are whole but before the
    # `checkpoint` state file names them: the trainer then resumes from that newer one
    # (the newest that reads back whole), one checkpoint interval later.
    (start, final), out = self._resume(saved + 8)
    self.assertIn(int(start), (saved, saved + 5))
    self.assertEqual(int(final), saved + 8)
    self.assertIn("exported", out)
    self.assertTrue(tf.io.gfile.exists(os.path.join(self.model_dir, "export", "saved_model.pb")))

  def test_sigterm_checkpoints_current_step(self):
    rc, out, err = self._start_and_stop(signal.SIGTERM)
    self.assertEqual(rc, 0, err[-3000:])
    stopped = int(re.search(r"stopped at step (\d+)", out).group(1))
    self.assertEqual(self._latest_step(), stopped)  # resuming from it: see the SIGKILL test


if __name__ == "__main__":
  tf.test.main()
