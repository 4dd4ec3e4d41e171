"""CLC candidate samplers (`model/losses/samplers.py`): log-uniform and unigram by hand, every
class reachable at the paper's size, chi-square fits, determinism, XLA."""

import math

import numpy as np
import tensorflow as tf

from scipy import stats

from model.losses import (log_uniform_boundaries, log_uniform_classes, log_uniform_probability,
                          sample_candidates, unigram_classes, unigram_cumulative,
                          unigram_probability)

PAPER_CLASSES = 14_000_000  # the CLC paper's class count


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
