"""CLC sampled softmax (`model/losses/sampled_softmax.py`): log-Q, accidental hits,
full-softmax equality."""

import math

import numpy as np
import tensorflow as tf

from model.losses import (CandidateSample, ClassEmbeddingTable, sample_candidates,
                          sampled_softmax_loss)


def np_sampled_softmax(x, labels, w, b, sampled, true_count, samp_count, hits=True, logq=True):
  """Numpy reference (float64)."""
  x, w, b = (np.asarray(v, np.float64) for v in (x, w, b))
  true = np.sum(x * w[labels], 1) + b[labels]
  samp = x @ w[sampled].T + b[sampled][None, :]
  if logq:
    true = true - np.log(true_count)
    samp = samp - np.log(samp_count)[None, :]
  if hits:
    samp = np.where(labels[:, None] == sampled[None, :], -np.inf, samp)
  logits = np.concatenate([true[:, None], samp], 1)
  m = logits.max(1, keepdims=True)
  lse = m[:, 0] + np.log(np.exp(logits - m).sum(1))
  return np.mean(lse - logits[:, 0])


def make(rng, batch, num_classes, dim):
  table = ClassEmbeddingTable(num_classes, dim)
  table.biases.assign(rng.normal(size=(num_classes, 1)))
  x = rng.normal(size=(batch, dim)).astype(np.float32)
  labels = rng.integers(0, num_classes, size=batch)
  return table, x, labels


class SampledSoftmaxTest(tf.test.TestCase):

  def test_all_classes_equals_full_softmax(self):
    rng = np.random.default_rng(0)
    for batch, n, dim in ((1, 2, 3), (6, 11, 4), (16, 40, 8)):
      table, x, labels = make(rng, batch, n, dim)
      full = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
          labels=labels, logits=table(x)))
      got = sampled_softmax_loss(x, labels, table, num_sampled=n, sampler="all")
      self.assertAllClose(got, full, rtol=1e-6, atol=1e-6)
      logits = table(x).numpy()
      by_hand = np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(batch), labels])
      self.assertAllClose(got, by_hand, rtol=1e-5)

  def test_hand_case(self):
    # 3 classes, dim 1, x = 1, w = [1, 2, 3], b = 0, label 0; sampled [0, 2, 2]
    # with expected counts 1: the accidental hit (class 0) is removed, so
    # loss = log(e^1 + e^3 + e^3) - 1.
    table = ClassEmbeddingTable(3, 1)
    table.embeddings.assign([[1.0], [2.0], [3.0]])
    c = CandidateSample(tf.constant([0, 2, 2], tf.int64), tf.constant([1.0]),
                        tf.constant([1.0, 1.0, 1.0]))
    got = sampled_softmax_loss(tf.constant([[1.0]]), tf.constant([0]), table, None, candidates=c)
    self.assertAllClose(got, math.log(math.e + 2 * math.e ** 3) - 1.0, rtol=1e-6)
    # With expected counts 2 for class 2, each of its logits drops by log 2.
    c = c._replace(sampled_expected_count=tf.constant([1.0, 2.0, 2.0]))
    got = sampled_softmax_loss(tf.constant([[1.0]]), tf.constant([0]), table, None, candidates=c)
    self.assertAllClose(got, math.log(math.e + math.e ** 3) - 1.0, rtol=1e-6)

  def test_against_numpy_and_tf_reference(self):
    rng = np.random.default_rng(1)
    for seed, (batch, n, dim, s, sampler) in enumerate(
        [(5, 20, 4, 8, "log_uniform"), (12, 100, 6, 30, "log_uniform"),
         (7, 15, 3, 40, "uniform"), (9, 6, 5, 10, "log_uniform")]):
      table, x, labels = make(rng, batch, n, dim)
      labels[0] = 0  # class 0 is the most often sampled: accidental hits happen
      c = sample_candidates(labels, n, s, sampler, seed=[seed, 7])
      got = sampled_softmax_loss(x, labels, table, s, candidates=c)
      ref = np_sampled_softmax(x, labels, table.embeddings.numpy(), table.biases.numpy()[:, 0],
                               c.sampled.numpy(), c.true_expected_count.numpy(),
                               c.sampled_expected_count.numpy())
      self.assertAllClose(got, ref, rtol=1e-5, msg=f"case {seed}")
      # TF's own op masks only one copy of a repeated accidental hit (its
      # samplers draw unique classes), so compare with it on unique samples.
      uniq, first = np.unique(c.sampled.numpy(), return_index=True)
      cu = CandidateSample(tf.constant(uniq), c.true_expected_count,
                           tf.gather(c.sampled_expected_count, first))
      tf_ref = tf.reduce_mean(tf.nn.sampled_softmax_loss(
          tf.constant(table.embeddings.numpy()), table.biases.numpy()[:, 0],
          labels[:, None].astype(np.int64), x, len(uniq), n,
          sampled_values=(cu.sampled, cu.true_expected_count[:, None], cu.sampled_expected_count),
          remove_accidental_hits=True))
      self.assertAllClose(sampled_softmax_loss(x, labels, table, None, candidates=cu), tf_ref,
                          rtol=1e-5, msg=f"case {seed}")
      # Without correction / hit removal, against numpy too.
      got2 = sampled_softmax_loss(x, labels, table, s, candidates=c,
                                  remove_accidental_hits=False, subtract_log_q=False)
      ref2 = np_sampled_softmax(x, labels, table.embeddings.numpy(), table.biases.numpy()[:, 0],
                                c.sampled.numpy(), None, None, hits=False, logq=False)
      self.assertAllClose(got2, ref2, rtol=1e-5)

  def test_numeric_gradient(self):
    rng = np.random.default_rng(2)
    table, x, labels = make(rng, 3, 5, 2)
    c = sample_candidates(labels, 5, 4, "log_uniform", seed=[5, 5])
    x0 = x.astype(np.float64)

    def f(v):
      return sampled_softmax_loss(v, labels, table, 4, candidates=c)

    xt = tf.constant(x0, tf.float32)
    with tf.GradientTape() as tape:
      tape.watch(xt)
      loss = f(xt)
    grad = tape.gradient(loss, xt).numpy()
    num, h = np.zeros_like(x0), 1e-3
    for idx in np.ndindex(x0.shape):
      e = np.zeros_like(x0)
      e[idx] = h
      num[idx] = (float(f(tf.constant(x0 + e, tf.float32)))
                  - float(f(tf.constant(x0 - e, tf.float32)))) / (2 * h)
    self.assertAllClose(grad, num, atol=2e-3, rtol=2e-3)
    with tf.GradientTape() as tape:
      loss = f(xt)
    g_w, g_b = tape.gradient(loss, [table.embeddings, table.biases])
    self.assertIsNotNone(g_w)
    self.assertIsNotNone(g_b)

  def test_sharded_table_lookup(self):
    # What ParameterServerStrategy with a partitioner creates: ShardedVariables.
    from tensorflow.python.distribute.sharded_variable import ShardedVariable
    rng = np.random.default_rng(3)
    table, x, labels = make(rng, 4, 10, 3)
    dense_loss = sampled_softmax_loss(x, labels, table, None, sampler="all")
    w, b = table.embeddings.numpy(), table.biases.numpy()
    table.embeddings = ShardedVariable([tf.Variable(w[:4]), tf.Variable(w[4:7]),
                                        tf.Variable(w[7:])])
    table.biases = ShardedVariable([tf.Variable(b[:4]), tf.Variable(b[4:7]), tf.Variable(b[7:])])
    self.assertAllClose(sampled_softmax_loss(x, labels, table, None, sampler="all"), dense_loss)
    c = sample_candidates(labels, 10, 6, "log_uniform", seed=[1, 1])
    with tf.GradientTape() as tape:
      loss = sampled_softmax_loss(x, labels, table, 6, candidates=c)
    grads = tape.gradient(loss, table.embeddings.variables)
    self.assertEqual(len(grads), 3)

  def test_jit_compile(self):
    # The sampler and the loss only use ops that XLA (hence TPU) compiles.
    rng = np.random.default_rng(4)
    table, x, labels = make(rng, 4, 30, 3)
    def step(x, y, seed):
      c = sample_candidates(y, 30, 10, "log_uniform", seed=seed)  # float64 and integer ops
      return sampled_softmax_loss(x, y, table, 10, candidates=c), c

    # (XLA's stateless generator differs from the CPU kernel's: compare the
    # loss on the candidates the compiled function drew.)
    got, c = tf.function(step, jit_compile=True)(x, labels, tf.constant([1, 2], tf.int64))
    self.assertAllInRange(c.sampled, 0, 29)
    eager = sampled_softmax_loss(x, labels, table, 10, candidates=c)
    self.assertAllClose(got, eager, rtol=1e-5)


if __name__ == "__main__":
  tf.test.main()
