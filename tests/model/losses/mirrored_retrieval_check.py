"""Run by test_retrieval.py in a fresh process (logical devices must be configured
before TensorFlow initialises them).

`in_batch_softmax_loss` under MirroredStrategy over 2 logical CPU devices: each
replica scores its half of the batch against its own in-batch candidates (the
trainer's contrastive step). The replicas' losses / 2, summed, must equal the
mean of the two halves computed on one device. Prints "ok" or raises.
"""

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import numpy as np
import tensorflow as tf

from model.losses.retrieval import in_batch_softmax_loss


def main() -> None:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  strategy = tf.distribute.MirroredStrategy(
      [d.name for d in tf.config.list_logical_devices("CPU")][:2])
  rng = np.random.default_rng(0)
  batch, half = 16, 8
  a, p = rng.normal(size=(2, batch, 4)).astype(np.float32)
  ids = rng.integers(0, 20, size=(2, batch))
  clusters = rng.integers(-1, 3, size=(2, batch))

  def loss_of(sl):
    return in_batch_softmax_loss(a[sl], p[sl], ids[0][sl], ids[1][sl], temperature=0.5,
                                 anchor_cluster_ids=clusters[0][sl],
                                 positive_cluster_ids=clusters[1][sl])

  want = 0.5 * (float(loss_of(slice(0, half))) + float(loss_of(slice(half, batch))))

  def local(ctx):
    r = ctx.replica_id_in_sync_group
    return tf.constant(r * half, tf.int32)

  starts = strategy.experimental_distribute_values_from_function(local)

  @tf.function
  def step(starts):
    def replica_fn(start):
      sl = lambda x: tf.slice(tf.constant(x), [start] + [0] * (x.ndim - 1),
                              [half] + list(x.shape[1:]))
      value = in_batch_softmax_loss(sl(a), sl(p), sl(ids[0]), sl(ids[1]), temperature=0.5,
                                    anchor_cluster_ids=sl(clusters[0]),
                                    positive_cluster_ids=sl(clusters[1]))
      ctx = tf.distribute.get_replica_context()
      return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value / ctx.num_replicas_in_sync)
    return strategy.experimental_local_results(strategy.run(replica_fn, args=(starts,)))[0]

  got = float(step(starts))
  if strategy.num_replicas_in_sync != 2 or abs(got - want) > 1e-5:
    raise AssertionError(f"mirrored {got} != single-device {want}")
  print("ok")


if __name__ == "__main__":
  main()
