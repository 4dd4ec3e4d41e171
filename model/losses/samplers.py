"""Candidate samplers of the CLC sampled softmax, exact up to 2**31 classes.

Every sampler draws `num_sampled` classes WITH replacement from integer
uniform draws (`tf.random.(stateless_)uniform` with an integer dtype), then
maps them onto classes with integer comparisons; `Q(k)`, the probability of
drawing class k, is computed from the same integers, so it is the probability
of what is drawn, not an approximation of it. Only ops that XLA compiles
(integer and float64 arithmetic, `exp`, `log`, `ceil`, gathers, `where`) are
used, no `tf.random.*_candidate_sampler`.

* `uniform` (the default; fits CLC labels, which are dense ranks in
  seeded-hash order, so label order says nothing about frequency):
  `k = r` with `r` uniform in `[0, N)`, `Q(k) = 1 / N`.
* `log_uniform` (Zipfian, for labels sorted by decreasing frequency):
  `F(k) = log(k + 2) / log(N + 1)` in float64 (`F(N - 1) = 1` exactly);
  integer boundaries `B(k) = ceil(F(k) * 2**53)`, `B(-1) = 0`; `r` uniform in
  `[0, 2**53)`; class k is drawn iff `B(k - 1) <= r < B(k)`, so
  `Q(k) = (B(k) - B(k - 1)) / 2**53` exactly. This is the textbook
  `log((k + 2) / (k + 1)) / log(N + 1)` up to 2**-53 absolute, and every class
  has `B(k) > B(k - 1)` for N <= 2**31 (the narrowest interval,
  about `1 / (N ln N)`, spans more than 10**5 grid steps); see the tests.
  The inverse is a closed-form guess `floor(exp(u log(N + 1))) - 1` corrected
  by comparing `r` with the neighbouring boundaries.
* `unigram`: class weights `c_k >= 1` (e.g. the `size` column of
  `classes.tsv`), cumulative `C(k) = c_0 + ... + c_k`, `T = C(N - 1)`;
  `r` uniform in `[0, T)`; class k is drawn iff `C(k - 1) <= r < C(k)` (a
  branch-free binary search of ceil(log2 N) steps), `Q(k) = c_k / T`.
* `all`: no sampling; every class once, expected count 1 (the full softmax).

Integer draws over a range R that is not a power of two carry TensorFlow's
modulo bias of at most R / 2**64 relative (< 2**-33 for R < 2**31; the
log-uniform draw, over 2**53, has none), far below float32 resolution.
"""

from __future__ import annotations

import math
import typing

import numpy as np
import tensorflow as tf

SAMPLERS = ("uniform", "log_uniform", "unigram", "all")
MAX_CLASSES = 2**31
_GRID = 2**53  # the log-uniform draw: r / 2**53 is every float64 multiple of 2**-53 in [0, 1)


class CandidateSample(typing.NamedTuple):
  """Sampled classes and expected counts, the layout of TF's `sampled_values`.

  Attributes:
    sampled: int64 `[S]` sampled class ids.
    true_expected_count: float32 `[B]` expected count `S * Q` of each row's true class.
    sampled_expected_count: float32 `[S]` expected count of each sampled class.
  """
  sampled: tf.Tensor
  true_expected_count: tf.Tensor
  sampled_expected_count: tf.Tensor


def _uniform_int(shape, maxval, seed) -> tf.Tensor:
  """int64 uniform in `[0, maxval)`; `maxval` a Python int or an int64 scalar tensor."""
  if seed is None:
    return tf.random.uniform(shape, maxval=maxval, dtype=tf.int64)
  return tf.random.stateless_uniform(shape, seed=tf.cast(seed, tf.int64), minval=0,
                                     maxval=maxval, dtype=tf.int64)


def log_uniform_boundaries(classes: tf.Tensor, num_classes: int) -> tf.Tensor:
  """`B(k) = ceil(F(k) * 2**53)` as int64, with `B(-1) = 0` and `B(N - 1) = 2**53`.

  Args:
    classes: int tensor of class ids in `[-1, N)`.
    num_classes: N.

  Returns:
    int64 tensor, the same shape.
  """
  k = tf.cast(classes, tf.float64)
  cdf = tf.math.log(k + 2.0) / tf.math.log(tf.constant(num_classes + 1.0, tf.float64))
  return tf.cast(tf.math.ceil(cdf * float(_GRID)), tf.int64)  # exact: scaling by 2**53


def log_uniform_probability(classes: tf.Tensor, num_classes: int) -> tf.Tensor:
  """Q(k) of the log-uniform sampler, float64, exactly `(B(k) - B(k-1)) / 2**53`."""
  classes = tf.cast(classes, tf.int64)
  width = (log_uniform_boundaries(classes, num_classes)
           - log_uniform_boundaries(classes - 1, num_classes))
  return tf.cast(width, tf.float64) / float(_GRID)


def log_uniform_classes(draws: tf.Tensor, num_classes: int) -> tf.Tensor:
  """The log-uniform inverse CDF on the integer grid.

  Args:
    draws: int64 `r` in `[0, 2**53)`.
    num_classes: N.

  Returns:
    int64 k with `B(k - 1) <= r < B(k)`.
  """
  r = tf.cast(draws, tf.int64)
  u = tf.cast(r, tf.float64) / float(_GRID)
  guess = tf.floor(tf.exp(u * math.log(num_classes + 1.0))) - 1.0
  k = tf.clip_by_value(tf.cast(guess, tf.int64), 0, num_classes - 1)
  for _ in range(2):  # float64 rounding leaves the guess at most one class off
    k = tf.where(r >= log_uniform_boundaries(k, num_classes), k + 1, k)
    k = tf.where(r < log_uniform_boundaries(k - 1, num_classes), k - 1, k)
    k = tf.clip_by_value(k, 0, num_classes - 1)
  return k


def unigram_cumulative(counts) -> np.ndarray:
  """int64 cumulative weights `C` of the unigram sampler; ValueError unless every count >= 1."""
  counts = np.asarray(counts, np.int64)
  if counts.ndim != 1 or counts.size == 0 or counts.min() < 1:
    raise ValueError("unigram sampler: every class needs a count >= 1")
  return np.cumsum(counts)


def unigram_classes(draws: tf.Tensor, cumulative) -> tf.Tensor:
  """Smallest k with `C(k) > r`, by a branch-free binary search.

  Args:
    draws: int64 `r` in `[0, C(N - 1))`.
    cumulative: int64 `[N]` tensor or variable (plain or sharded) of `C`.

  Returns:
    int64 classes, the shape of `draws`.
  """
  num_classes = int(cumulative.shape[0])
  lo = tf.zeros_like(draws, tf.int64)
  hi = tf.fill(tf.shape(draws), tf.constant(num_classes - 1, tf.int64))
  for _ in range(max(1, math.ceil(math.log2(num_classes)))):
    mid = (lo + hi) // 2
    right = tf.nn.embedding_lookup(cumulative, mid) <= draws
    lo, hi = tf.where(right, mid + 1, lo), tf.where(right, hi, mid)
  return lo


def unigram_probability(classes: tf.Tensor, cumulative) -> tf.Tensor:
  """Q(k) = c_k / T, float64."""
  classes = tf.cast(classes, tf.int64)
  upper = tf.nn.embedding_lookup(cumulative, classes)
  lower = tf.where(classes > 0, tf.nn.embedding_lookup(cumulative, tf.maximum(classes - 1, 0)),
                   tf.zeros_like(upper))
  total = tf.nn.embedding_lookup(cumulative,
                                 tf.constant([int(cumulative.shape[0]) - 1], tf.int64))[0]
  return tf.cast(upper - lower, tf.float64) / tf.cast(total, tf.float64)


def sample_candidates(labels: tf.Tensor, num_classes: int, num_sampled: int | None,
                      sampler: str = "uniform", seed=None,
                      cumulative_counts=None) -> CandidateSample:
  """Draws the candidate classes of one step.

  Args:
    labels: int `[B]` true class ids.
    num_classes: N, at most 2**31.
    num_sampled: S, draws with replacement (for `all`: N or None).
    sampler: One of `SAMPLERS` (see the module docstring).
    seed: Optional shape-[2] int seed for the stateless generator (e.g. derived
      from the step); None uses the stateful one.
    cumulative_counts: For `unigram`: the int64 `[N]` cumulative weights
      (`unigram_cumulative`), a tensor or a (possibly sharded) variable.

  Returns:
    A `CandidateSample`.
  """
  labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
  if sampler not in SAMPLERS:
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
  if not 1 <= num_classes <= MAX_CLASSES:
    raise ValueError(f"num_classes must be in [1, 2**31], got {num_classes}")
  if sampler == "all":
    if num_sampled not in (None, num_classes):
      raise ValueError(f"sampler 'all' takes num_sampled = num_classes ({num_classes})")
    sampled = tf.range(num_classes, dtype=tf.int64)
    return CandidateSample(sampled, tf.ones(tf.shape(labels), tf.float32),
                           tf.ones([num_classes], tf.float32))
  if not num_sampled or num_sampled < 1:
    raise ValueError(f"num_sampled must be positive, got {num_sampled}")
  if sampler == "uniform":
    sampled = _uniform_int([num_sampled], num_classes, seed)
    count = lambda c: tf.fill(tf.shape(c), float(num_sampled) / num_classes)  # noqa: E731
    return CandidateSample(sampled, count(labels), count(sampled))
  if sampler == "log_uniform":
    sampled = log_uniform_classes(_uniform_int([num_sampled], _GRID, seed), num_classes)
    probability = lambda c: log_uniform_probability(c, num_classes)  # noqa: E731
  else:
    if cumulative_counts is None or int(cumulative_counts.shape[0]) != num_classes:
      raise ValueError("sampler 'unigram' needs cumulative_counts of length num_classes")
    total = tf.nn.embedding_lookup(cumulative_counts,
                                   tf.constant([num_classes - 1], tf.int64))[0]
    draws = _uniform_int([num_sampled], total, seed)
    sampled = unigram_classes(draws, cumulative_counts)
    probability = lambda c: unigram_probability(c, cumulative_counts)  # noqa: E731
  count = lambda c: tf.cast(num_sampled * probability(c), tf.float32)  # noqa: E731
  return CandidateSample(sampled, count(labels), count(sampled))

