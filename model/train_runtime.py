"""Where a training task stands and how it reports: chief or not, its id, the
TensorBoard scalars it writes, and the SIGTERM flag the loop checks."""

import signal
import threading

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


def scalar(name: str, value) -> None:
  """`tf.summary.scalar` without the tensorboard package (same event format)."""
  tf.summary.write(name, tf.cast(value, tf.float32), metadata=_SCALAR_METADATA)


def is_chief(strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.cluster_spec().as_dict():
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  return task_type in (None, "chief") or (task_type == "worker" and task_id == 0 and
                                          "chief" not in resolver.cluster_spec().as_dict())


def task_id(strategy) -> str:
  resolver = getattr(strategy, "cluster_resolver", None)
  return f"{getattr(resolver, 'task_type', None)}{getattr(resolver, 'task_id', None)}"


class StopFlag:
  """Set by SIGTERM so the loop checkpoints and returns."""

  def __init__(self):
    self.stop = False
    self._old = None

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      self._old = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, *_):
    self.stop = True

  def __exit__(self, *_):
    if self._old is not None:
      signal.signal(signal.SIGTERM, self._old)
