"""`model/train_runtime.py`: chief or not, the task id, scalars in TensorBoard's format, and
the SIGTERM flag."""

import glob
import os
import signal
import types

import tensorflow as tf

from model import train_runtime


def _strategy(cluster, task_type, task_id):
  """What `is_chief` and `task_id` read of a strategy: its cluster resolver."""
  resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
      tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
  return types.SimpleNamespace(cluster_resolver=resolver)


class TrainRuntimeTest(tf.test.TestCase):

  def test_a_single_machine_is_the_chief(self):
    self.assertTrue(train_runtime.is_chief(tf.distribute.get_strategy()))
    self.assertEqual(train_runtime.task_id(tf.distribute.get_strategy()), "NoneNone")

  def test_worker_zero_is_chief_unless_there_is_a_chief(self):
    workers = {"worker": ["a:1", "b:2"]}
    self.assertTrue(train_runtime.is_chief(_strategy(workers, "worker", 0)))
    self.assertFalse(train_runtime.is_chief(_strategy(workers, "worker", 1)))
    with_chief = {"chief": ["c:3"], **workers}
    self.assertFalse(train_runtime.is_chief(_strategy(with_chief, "worker", 0)))
    self.assertTrue(train_runtime.is_chief(_strategy(with_chief, "chief", 0)))
    self.assertEqual(train_runtime.task_id(_strategy(workers, "worker", 1)), "worker1")

  def test_scalar_is_read_back_as_a_tensorboard_scalar(self):
    logdir = self.create_tempdir().full_path
    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
      tf.summary.experimental.set_step(7)
      train_runtime.scalar("loss", 3)
    writer.close()
    values = []
    for path in glob.glob(os.path.join(logdir, "events.*")):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          values.append((event.step, value.tag, value.metadata.plugin_data.plugin_name,
                         float(tf.make_ndarray(value.tensor))))
    self.assertEqual(values, [(7, "loss", "scalars", 3.0)])

  def test_stop_flag_is_set_by_sigterm_and_restores_the_handler(self):
    before = signal.getsignal(signal.SIGTERM)
    with train_runtime.StopFlag() as flag:
      self.assertFalse(flag.stop)
      os.kill(os.getpid(), signal.SIGTERM)
      self.assertTrue(flag.stop)
    self.assertIs(signal.getsignal(signal.SIGTERM), before)


if __name__ == "__main__":
  tf.test.main()
