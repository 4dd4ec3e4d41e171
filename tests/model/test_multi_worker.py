"""`gcml train --strategy=multi_worker`: two worker processes on 127.0.0.1 with
TF_CONFIG (from `launch.tf_config`); both finish, the chief exports, the loss falls.
(The TF_CONFIG helper itself: tests/launch/test_tf_config.py.)"""

import json
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

from launch.tf_config import tf_config
from pipelines.evaluation import training_summaries
from tests.model.shards import free_ports, write_shards
from tests.model.training_records import labelled_records, triplet_records

ROOT = pathlib.Path(__file__).resolve().parents[2]
TIMEOUT = 240
STEPS, EVERY = 60, 5




def _summary_losses(model_dir):
  scalars = training_summaries.read_scalars(training_summaries.event_files(model_dir))
  return [value for _, value in scalars["loss"]]


def _logged_eval(stderr):
  return [(int(s), float(x)) for s, x in re.findall(r"INFO eval step (\d+) loss ([-\d.naif]+)",
                                                   stderr)]


def _logged_losses(stderr):
  return [float(x) for x in re.findall(r"INFO step \d+ loss ([-\d.naif]+)", stderr)]


class MultiWorkerTest(tf.test.TestCase):

  def _write(self, records, name):
    return write_shards(self.create_tempdir().full_path, name, records)

  def _start(self, mode, data, model_dir, extra=(), steps=STEPS):
    """Starts the two workers (fresh ports each time, as a restarted job gets)."""
    hosts = ",".join(f"127.0.0.1:{p}" for p in free_ports(2))
    procs = []
    for i in range(2):
      env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
                 TF_CONFIG=json.dumps(tf_config(hosts, i)))
      procs.append(subprocess.Popen(
          [sys.executable, "-m", "launch.train", "--strategy=multi_worker", f"--mode={mode}",
           f"--train_data={data}", f"--model_dir={model_dir}",
           "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32", "--embedding_dim=16",
           "--batch_size=32", f"--train_steps={steps}", f"--summary_every={EVERY}",
           "--checkpoint_every=20", "--learning_rate=0.01", *extra],
          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs

  def _train(self, mode, data, extra=(), model_dir=None, steps=STEPS):
    """Runs both workers to the end; asserts they succeed."""
    model_dir = model_dir or self.create_tempdir().full_path
    procs = []
    try:
      procs = self._start(mode, data, model_dir, extra, steps)
      outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
      for p in procs:
        if p.poll() is None:
          p.kill()
          p.communicate()
    for i, (p, (_, err)) in enumerate(zip(procs, outs)):
      self.assertEqual(p.returncode, 0, f"worker {i}: {err[-3000:]}")
    return model_dir, outs

  def _check(self, model_dir, outs, evaluated=False):
    self.assertIn(f"exported {model_dir}/export", outs[0][0])
    self.assertTrue(os.path.isfile(os.path.join(model_dir, "export", "saved_model.pb")))
    self.assertEqual(sorted(os.listdir(model_dir)),  # no worker temps; eval by the chief
                     ["checkpoints"] + ["eval"] * evaluated + ["export", "train",
                                                              "train_config.json"])
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
                     os.path.join(model_dir, "checkpoints", f"ckpt-{STEPS}"))
    chief, other = _logged_losses(outs[0][1]), _logged_losses(outs[1][1])
    self.assertLen(chief, STEPS // EVERY)
    self.assertAllClose(chief, other)  # synchronous: both workers see the global loss
    summaries = _summary_losses(model_dir)
    self.assertAllClose(summaries, chief, atol=1e-4)
    self.assertTrue(np.all(np.isfinite(summaries)))
    self.assertLess(np.mean(summaries[-4:]), np.mean(summaries[:4]))

  @pytest.mark.slow
  def test_triplet_two_workers_with_evaluation(self):
    data = self._write(triplet_records(400, np.random.default_rng(5)), "t")
    held_out = self._write(triplet_records(128, np.random.default_rng(6)), "e")
    model_dir, outs = self._train("triplet", data, [f"--eval_data={held_out}", "--eval_steps=2"])
    self._check(model_dir, outs, evaluated=True)
    evals = [_logged_eval(err) for _, err in outs]
    self.assertEqual([s for s, _ in evals[0]], [20, 40, 60])  # at every checkpoint
    self.assertAllClose(evals[0], evals[1])  # both workers score the global eval batch

  @pytest.mark.slow
  def test_job_survives_the_loss_of_a_worker(self):
    """As with Keras' BackupAndRestore: a worker dies (SIGKILL), the job fails
    (the chief's collectives break; the cluster manager stops what is left),
    the cluster manager restarts every worker with the same command, and
    training continues from the last checkpoint, not from zero."""
    data = self._write(triplet_records(400, np.random.default_rng(5)), "t")
    model_dir = self.create_tempdir().full_path
    steps = 80  # checkpoints at 20, 40, 60, 80: the loss lands at 20 (40 at the latest)
    ckpt = os.path.join(model_dir, "checkpoints")
    procs = self._start("triplet", data, model_dir, steps=steps)
    try:
      deadline = time.time() + TIMEOUT
      while tf.train.latest_checkpoint(ckpt) is None and time.time() < deadline:
        self.assertIsNone(procs[0].poll(), "the chief ended before its first checkpoint")
        time.sleep(0.05)
      procs[1].send_signal(signal.SIGKILL)
      procs[1].communicate()
      try:  # the chief cannot go on without its peer
        procs[0].communicate(timeout=60)
        self.assertNotEqual(procs[0].returncode, 0)
      except subprocess.TimeoutExpired:  # blocked in a collective: the manager stops it
        procs[0].kill()
        procs[0].communicate()
    finally:
      for p in procs:
        if p.poll() is None:
          p.kill()
          p.communicate()
    lost_at = int(tf.train.latest_checkpoint(ckpt).rsplit("-", 1)[1])
    self.assertBetween(lost_at, 20, steps - 20)

    _, outs = self._train("triplet", data, model_dir=model_dir, steps=steps)
    for i, (_, err) in enumerate(outs):
      restored = re.findall(r"restored \S+ckpt-(\d+)", err)
      self.assertTrue(restored and int(restored[0]) >= lost_at, f"worker {i}: {err[-2000:]}")
      first_step = int(re.findall(r"INFO step (\d+) loss", err)[0])
      self.assertEqual(first_step, (int(restored[0]) // EVERY + 1) * EVERY)  # not from zero
    self.assertIn(f"exported {model_dir}/export", outs[0][0])
    self.assertEqual(tf.train.latest_checkpoint(ckpt), os.path.join(ckpt, f"ckpt-{steps}"))

  @pytest.mark.slow
  def test_clc_two_workers(self):
    data = self._write(labelled_records(400, np.random.default_rng(5)), "l")
    # 4 steps per host call: the collectives run inside the in-function loop.
    self._check(*self._train("clc", data, ["--num_classes=6", "--num_sampled=4",
                                           "--steps_per_loop=4"]))


if __name__ == "__main__":
  tf.test.main()
