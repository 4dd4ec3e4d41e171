"""CLC sampled softmax: samplers, log-Q, accidental hits, full-softmax equality."""

import math

import numpy as np
import tensorflow as tf

from scipy import stats

from model.losses import (CandidateSample, ClassEmbeddingTable, log_uniform_boundaries,
                          log_uniform_classes, log_uniform_probability, sample_candidates,
                          sampled_softmax_loss, unigram_classes, unigram_cumulative,
                          unigram_probability)

PAPER_CLASSES = 14_000_000  # the CLC paper's class count


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


def chi_square_p(sampled, probability, bins):
  """p-value of the drawn counts against S * Q, over bins of classes (plus the rest)."""
  sampled = np.asarray(sampled)
  observed, expected = [], []
  for lo, hi in bins:
    observed.append(np.count_nonzero((sampled >= lo) & (sampled < hi)))
    expected.append(len(sampled) * probability(lo, hi))
  observed.append(len(sampled) - sum(observed))
  expected.append(len(sampled) - sum(expected))
  return stats.chisquare(observed, expected).pvalue, observed, expected


def head_middle_tail(n):
  """Bins: the 5 head classes one by one, then wider middle and tail ranges."""
  return ([(k, k + 1) for k in range(5)]
          + [(n // 2 - 500, n // 2 + 500), (n // 2 + 500, n // 2 + 5000)]
          + [(n - 20_000, n - 2000), (n - 2000, n)])


class SamplerTest(tf.test.TestCase):

  def test_log_uniform_probability_by_hand(self):
    n = 9  # log(N + 1) = log 10
    q = log_uniform_probability(tf.constant([0, 1, 8]), n).numpy()
    self.assertAllClose(q, [math.log(2) / math.log(10), math.log(1.5) / math.log(10),
                            math.log(10 / 9) / math.log(10)], rtol=1e-12, atol=2**-52)
    # Q is a difference of integer boundaries over 2**53: the sum is exactly 1.
    self.assertEqual(np.sum(log_uniform_probability(tf.range(1000), 1000).numpy()), 1.0)
    self.assertAllEqual(log_uniform_boundaries(tf.constant([-1, 999]), 1000), [0, 2**53])

  def test_log_uniform_every_class_reachable_at_paper_size(self):
    # By construction: every class's integer interval [B(k-1), B(k)) is non-empty,
    # and the inverse CDF maps both of its ends onto k, for all 14M classes.
    n = PAPER_CLASSES
    for lo in range(0, n, 2_000_000):
      k = np.arange(lo, min(n, lo + 2_000_000), dtype=np.int64)
      lower = log_uniform_boundaries(k - 1, n).numpy()
      upper = log_uniform_boundaries(k, n).numpy()
      self.assertTrue(np.all(upper > lower), f"empty interval near class {lo}")
      self.assertAllEqual(log_uniform_classes(lower, n), k)
      self.assertAllEqual(log_uniform_classes(upper - 1, n), k)
    # At 2**31 classes: the head, a middle range and the tail (the narrowest intervals).
    n = 2**31
    for start in (0, 2**30, n - 100_000):
      k = np.arange(start, start + 100_000, dtype=np.int64)
      lower, upper = log_uniform_boundaries(k - 1, n).numpy(), log_uniform_boundaries(k, n).numpy()
      self.assertGreater(np.min(upper - lower), 10**5)
      self.assertAllEqual(log_uniform_classes(lower, n), k)
      self.assertAllEqual(log_uniform_classes(upper - 1, n), k)

  def test_unigram_every_class_reachable_at_paper_size(self):
    n = PAPER_CLASSES
    sizes = np.random.default_rng(0).integers(1, 51, size=n)
    sizes[-1] = 1  # the narrowest interval at the end
    cumulative = unigram_cumulative(sizes)
    table = tf.constant(cumulative)
    for lo in range(0, n, 2_000_000):
      k = np.arange(lo, min(n, lo + 2_000_000), dtype=np.int64)
      lower = np.where(k > 0, cumulative[np.maximum(k - 1, 0)], 0)
      self.assertAllEqual(unigram_classes(tf.constant(lower), table), k)
      self.assertAllEqual(unigram_classes(tf.constant(cumulative[k] - 1), table), k)
    q = unigram_probability(tf.constant([0, n - 1]), table).numpy()
    self.assertAllEqual(q, [sizes[0] / sizes.sum(), 1 / sizes.sum()])
    with self.assertRaisesRegex(ValueError, "count >= 1"):
      unigram_cumulative([3, 0, 2])

  def test_chi_square_head_middle_tail(self):
    n, s = 1_000_000, 2_000_000
    sizes = 1 + (np.arange(n) * 7919) % 50  # 1..50, no order
    cumulative = tf.constant(unigram_cumulative(sizes))
    probability = {
        "uniform": lambda lo, hi: (hi - lo) / n,
        "log_uniform": lambda lo, hi: float(np.sum(log_uniform_probability(
            tf.range(lo, hi), n).numpy())),
        "unigram": lambda lo, hi: sizes[lo:hi].sum() / sizes.sum(),
    }
    for sampler, prob in probability.items():
      with self.subTest(sampler=sampler):
        c = sample_candidates(tf.constant([0, n - 1]), n, s, sampler, seed=[7, 11],
                              cumulative_counts=cumulative)
        sampled = c.sampled.numpy()
        self.assertAllInRange(sampled, 0, n - 1)
        p, observed, expected = chi_square_p(sampled, prob, head_middle_tail(n))
        self.assertGreater(p, 1e-4, f"{sampler}: observed {observed}, expected {expected}")
        # The expected counts are S * Q of the same sampler.
        self.assertAllClose(c.true_expected_count, [s * prob(0, 1), s * prob(n - 1, n)],
                            rtol=1e-6)

  def test_log_uniform_reaches_the_last_classes_at_1m(self):
    # The float32 draw left 11.6% of 1M classes unreachable, most in the tail:
    # the first integer draw of each of the last 64 classes' intervals maps onto it.
    n = 1_000_000
    draws = log_uniform_boundaries(tf.range(n - 64, n, dtype=tf.int64) - 1, n)
    self.assertAllEqual(log_uniform_classes(draws, n), np.arange(n - 64, n))

  def test_uniform_and_determinism(self):
    c1 = sample_candidates(tf.constant([3, 4]), 7, 5000, "uniform", seed=[3, 4])
    c2 = sample_candidates(tf.constant([3, 4]), 7, 5000, "uniform", seed=[3, 4])
    self.assertAllEqual(c1.sampled, c2.sampled)  # stateless
    counts = np.bincount(c1.sampled.numpy(), minlength=7)
    self.assertEqual(len(counts), 7)
    self.assertAllGreater(counts, 600)
    self.assertAllClose(c1.true_expected_count, [5000 / 7] * 2)
    self.assertEqual(sample_candidates(tf.constant([1]), 7, 3, "uniform").sampled.shape, (3,))
    big = sample_candidates(tf.constant([1]), 2**31, 1000, "uniform", seed=[1, 1]).sampled
    self.assertAllInRange(big, 0, 2**31 - 1)
    self.assertGreater(int(tf.reduce_max(big)), 2**30)  # not confined to a float32 grid

  def test_bad_arguments(self):
    with self.assertRaises(ValueError):
      sample_candidates(tf.constant([0]), 5, 3, "zipf")
    with self.assertRaises(ValueError):
      sample_candidates(tf.constant([0]), 5, 3, "all")
    with self.assertRaises(ValueError):
      sample_candidates(tf.constant([0]), 5, 0, "uniform")
    with self.assertRaisesRegex(ValueError, "cumulative_counts"):
      sample_candidates(tf.constant([0]), 5, 3, "unigram")
    with self.assertRaisesRegex(ValueError, "2\\*\\*31"):
      sample_candidates(tf.constant([0]), 2**31 + 1, 3, "uniform")

  def test_samplers_compile_with_xla(self):
    n = 3000
    cumulative = tf.constant(unigram_cumulative(1 + np.arange(n) % 5))
    for sampler in ("uniform", "log_uniform", "unigram"):
      fn = tf.function(lambda y, seed, sampler=sampler: sample_candidates(
          y, n, 500, sampler, seed=seed, cumulative_counts=cumulative), jit_compile=True)
      c = fn(tf.constant([0, 5], tf.int64), tf.constant([1, 2], tf.int64))
      self.assertAllInRange(c.sampled, 0, n - 1)
      # The expected counts are the sampler's Q at the classes drawn.
      q = {"uniform": lambda k: np.full(len(k), 1 / n),
           "log_uniform": lambda k: log_uniform_probability(k, n).numpy(),
           "unigram": lambda k: unigram_probability(k, cumulative).numpy()}[sampler]
      self.assertAllClose(c.sampled_expected_count, 500 * q(c.sampled.numpy()), rtol=1e-6)


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
