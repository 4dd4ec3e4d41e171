"""Run by test_triplet_mirrored.py in a fresh process (logical devices must be
configured before TensorFlow initialises them).

Compares `triplet_loss` under MirroredStrategy over 2 logical CPU devices with a
single device on the same global batch: loss, diagnostics and the gradients of
a small embedding layer. Prints one JSON line with the max abs differences.
"""

import json
import sys

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import numpy as np
import tensorflow as tf

from model.losses import triplet_loss


def main() -> dict:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  devices = [d.name for d in tf.config.list_logical_devices("CPU")]
  strategy = tf.distribute.MirroredStrategy(devices[:2])

  rng = np.random.default_rng(0)
  batch, d_in, dim = 12, 6, 5  # global batch; 6 triplets per replica
  ids = rng.integers(0, 15, size=(3, batch)).astype(np.int64)  # with duplicates
  ids[1] = np.where(ids[1] == ids[0], (ids[0] + 1) % 15, ids[1])
  feats = rng.normal(size=(15, d_in))[ids]  # [3, batch, d_in]: same id, same item
  w0 = rng.normal(size=(d_in, dim))

  def embed(w, x):
    return tf.math.l2_normalize(tf.matmul(x, w), axis=-1)

  def loss_and_grad(w, x, i, with_ids, gather=True):
    with tf.GradientTape() as tape:
      emb = [embed(w, x[k]) for k in range(3)]
      loss, diag = triplet_loss(*emb, *([i[0], i[1], i[2]] if with_ids else [None] * 3), margin=0.5,
                                block_size=5, gather_across_replicas=gather)
    return loss, tape.gradient(loss, w), diag

  out = {"devices": devices[:2], "num_replicas": strategy.num_replicas_in_sync}
  for with_ids in (True, False):
    w_single = tf.Variable(w0)
    single = tf.function(lambda: loss_and_grad(w_single, tf.constant(feats), tf.constant(ids),
                                               with_ids))()
    with strategy.scope():
      w_mirror = tf.Variable(w0)

    def local(ctx):
      r = ctx.replica_id_in_sync_group
      half = batch // ctx.num_replicas_in_sync
      sl = slice(r * half, (r + 1) * half)
      return tf.constant(feats[:, sl]), tf.constant(ids[:, sl])

    values = strategy.experimental_distribute_values_from_function(local)

    @tf.function
    def step(values):
      def replica_fn(v):
        return loss_and_grad(w_mirror, v[0], v[1], with_ids)
      loss, grad, diag = strategy.run(replica_fn, args=(values,))
      sum_ = tf.distribute.ReduceOp.SUM
      return (strategy.reduce(sum_, loss, axis=None), strategy.reduce(sum_, grad, axis=None),
              {k: strategy.experimental_local_results(v) for k, v in diag.items()})

    loss, grad, diag = step(values)

    @tf.function
    def local_only(values):
      loss, _, _ = strategy.run(
          lambda v: loss_and_grad(w_mirror, v[0], v[1], with_ids, gather=False), args=(values,))
      return strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)

    key = "ids" if with_ids else "positional"
    out[key] = {
        "loss_single": float(single[0]), "loss_mirrored": float(loss),
        "loss_diff": abs(float(single[0]) - float(loss)),
        "grad_diff": float(np.max(np.abs(single[1].numpy() - grad.numpy()))),
        "grad_norm": float(np.linalg.norm(single[1].numpy())),
        "diag_diff": max(abs(float(single[2][k]) - float(r)) for k, v in diag.items() for r in v),
        "diag_single": {k: float(v) for k, v in single[2].items()},
        # Control: mining within each replica's half only (mean of the halves).
        "loss_local_only": float(local_only(values)),
    }
  return out


if __name__ == "__main__":
  result = main()
  print(json.dumps(result))
  sys.exit(0)
