"""`--strategy=parameter_server`: CLC training on an in-process cluster (2 workers,
2 ps) with the class table sharded over the ps, in a subprocess with a timeout
(ps_train_check.py) so that a hang fails the test instead of blocking pytest;
and the same with every task its own `gcml train` process, as on real hosts:
TF_CONFIG from `launch.tf_config`, 127.0.0.1 only."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import tensorflow as tf

from launch.tf_config import tf_config
from tests.model.shards import free_ports, write_shards
from tests.model.training_records import labelled_records

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHECK = pathlib.Path(__file__).with_name("ps_train_check.py")
STEPS = 40


class ParameterServerTest(tf.test.TestCase):

  def test_clc_partitioned_table(self):
    d = self.create_tempdir().full_path
    recs = labelled_records(400, np.random.default_rng(5))
    write_shards(d, "l", recs)
    model_dir = self.create_tempdir().full_path
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, str(CHECK), os.path.join(d, "l-*.tfrecord"),
                             model_dir, str(STEPS), "4"], cwd=ROOT, env=env,
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
    # Every step's loss: each chunk of 10 steps is scheduled as loops of 4, 4
    # and 2 steps (--steps_per_loop=4), each loop inside one function on a worker.
    losses = r["losses"]
    self.assertLen(losses, STEPS)
    self.assertTrue(np.all(np.isfinite(losses)))
    self.assertLess(np.mean(losses[-10:]), np.mean(losses[:10]))
    self.assertTrue(r["exported"])
    self.assertEqual(r["export_dir"], os.path.join(model_dir, "export"))
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
                     os.path.join(model_dir, "checkpoints", f"ckpt-{STEPS}"))

  def test_separate_processes_with_tf_config(self):
    d = self.create_tempdir().full_path
    write_shards(d, "l", labelled_records(400, np.random.default_rng(5)))
    model_dir = self.create_tempdir().full_path
    ports = [f"127.0.0.1:{p}" for p in free_ports(4)]
    workers, ps, chief = ports[:2], ports[2], ports[3]
    flags = ["-m", "launch.train", "--strategy=parameter_server", "--mode=clc",
             f"--train_data={d}/l-*.tfrecord", f"--model_dir={model_dir}",
             "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32", "--embedding_dim=16",
             "--batch_size=32", "--num_classes=6", "--num_sampled=4", "--train_steps=20",
             "--summary_every=10", "--checkpoint_every=10", "--learning_rate=0.01"]

    def start(task_type, index):
      env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
                 GRPC_FAIL_FAST="use_caller", TF_CONFIG=json.dumps(
                     tf_config(workers, index, ps=[ps], chief=chief, task_type=task_type)))
      return subprocess.Popen([sys.executable, *flags], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    servers = [start("ps", 0), start("worker", 0), start("worker", 1)]
    coordinator, server_logs = None, []
    try:
      coordinator = start("chief", 0)
      out, err = coordinator.communicate(timeout=240)
      alive = [p.poll() is None for p in servers]  # they serve until the manager stops them
    finally:
      for p in servers + [coordinator]:
        if p is not None and p.poll() is None:
          p.kill()
        if p is not None and p is not coordinator:
          server_logs.append(p.communicate()[1])
    self.assertEqual(coordinator.returncode, 0, err[-3000:])
    self.assertEqual(alive, [True, True, True])
    self.assertIn(f"exported {model_dir}/export", out)
    self.assertEqual(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")),
                     os.path.join(model_dir, "checkpoints", "ckpt-20"))
    losses = [float(x) for x in re.findall(r"INFO step \d+ loss ([-\d.naif]+)", err)]
    self.assertLen(losses, 2)
    self.assertTrue(np.all(np.isfinite(losses)))
    for task, log in zip(("ps:0", "worker:0", "worker:1"), server_logs):
      self.assertIn(f"serving {task} of the parameter-server cluster", log)


if __name__ == "__main__":
  tf.test.main()
