"""CLC: cluster-id classification with a class-embedding table and sampled softmax.

Definitions (shared with tests/model/losses/test_sampled_softmax.py):

* Samplers (`model/losses/samplers.py`): `uniform` (default), `log_uniform`,
  `unigram` and `all`, each drawing `num_sampled` classes WITH replacement
  from integer uniform draws, with `Q(k)` exactly the probability of what is
  drawn, every class reachable, for up to 2**31 classes, XLA-compilable.
* log-Q correction: every logit (the true class's and the sampled ones) has
  `log(expected count)` subtracted, where expected count = `num_sampled * Q(k)`,
  the exact expected number of times class k is drawn in `num_sampled` draws
  with replacement (for `all` it is 1, so the correction is 0). Same form as
  `tf.nn.sampled_softmax_loss` with `subtract_log_q=True`.
* Accidental hits: a sampled class equal to the row's true class has its logit
  set to the dtype's lowest value (probability 0, zero gradient).
* Loss: softmax cross-entropy over `[true, sampled...]`, the true class being
  column 0; mean over the batch (or sum / `global_batch_size`).

The table only uses gather-style access (`tf.nn.embedding_lookup`), so its
variables may be `ShardedVariable`s: create it under a
`ParameterServerStrategy` scope with a `variable_partitioner` (e.g.
`tf.distribute.experimental.partitioners.MinSizePartitioner`) to spread
millions of classes over parameter servers.
"""

from __future__ import annotations

import math

import tensorflow as tf

from model.losses.samplers import SAMPLERS, CandidateSample, sample_candidates

__all__ = ["SAMPLERS", "CandidateSample", "ClassEmbeddingTable", "sample_candidates",
           "sampled_softmax_logits", "sampled_softmax_loss"]


class ClassEmbeddingTable(tf.keras.layers.Layer):
  """A `[num_classes, dim]` class-embedding matrix plus a `[num_classes, 1]` bias.

  Create it under the strategy's scope; with a partitioner both variables are
  sharded along the class axis, and every access goes through
  `tf.nn.embedding_lookup`, which `ShardedVariable` supports.
  """

  def __init__(self, num_classes: int, dim: int, initializer=None, name: str = "class_table",
               **kwargs):
    """Creates the variables.

    Args:
      num_classes: Number of classes N (clusters).
      dim: Embedding size, equal to the model's embedding_dim.
      initializer: For the embeddings; default truncated normal, std 1/sqrt(dim).
      name: Layer name.
      **kwargs: Passed to `tf.keras.layers.Layer`.
    """
    super().__init__(name=name, **kwargs)
    if num_classes < 1 or dim < 1:
      raise ValueError(f"num_classes and dim must be positive, got {num_classes}, {dim}")
    self.num_classes, self.dim = int(num_classes), int(dim)
    init = initializer or tf.keras.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(dim))
    self.embeddings = self.add_weight("embeddings", [self.num_classes, self.dim], initializer=init)
    self.biases = self.add_weight("biases", [self.num_classes, 1], initializer="zeros")

  def lookup(self, class_ids: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Gathers rows.

    Args:
      class_ids: int tensor of any shape S.

    Returns:
      `(weights [*S, dim], biases [*S])`.
    """
    class_ids = tf.cast(class_ids, tf.int64)
    w = tf.nn.embedding_lookup(self.embeddings, class_ids)
    b = tf.squeeze(tf.nn.embedding_lookup(self.biases, class_ids), -1)
    return w, b

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    """Full logits `[B, num_classes]` (evaluation; materialises the whole table)."""
    w, b = self.lookup(tf.range(self.num_classes, dtype=tf.int64))
    return tf.matmul(inputs, w, transpose_b=True) + b[None, :]


def sampled_softmax_logits(inputs, labels, table: ClassEmbeddingTable,
                           candidates: CandidateSample, remove_accidental_hits: bool = True,
                           subtract_log_q: bool = True) -> tf.Tensor:
  """Logits over `[true class, sampled classes...]`.

  Args:
    inputs: float `[B, dim]` item embeddings.
    labels: int `[B]` true class ids.
    table: The class table.
    candidates: From `sample_candidates`.
    remove_accidental_hits: Mask sampled classes equal to the row's label.
    subtract_log_q: Subtract log(expected count) from every logit.

  Returns:
    float32 `[B, 1 + S]` logits; column 0 is the true class.
  """
  inputs = tf.cast(inputs, tf.float32)
  labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
  true_w, true_b = table.lookup(labels)
  samp_w, samp_b = table.lookup(candidates.sampled)
  true_logits = tf.reduce_sum(inputs * tf.cast(true_w, tf.float32), -1) + tf.cast(true_b, tf.float32)
  samp_logits = tf.matmul(inputs, tf.cast(samp_w, tf.float32), transpose_b=True)
  samp_logits += tf.cast(samp_b, tf.float32)[None, :]
  if subtract_log_q:
    true_logits -= tf.math.log(tf.cast(candidates.true_expected_count, tf.float32))
    samp_logits -= tf.math.log(tf.cast(candidates.sampled_expected_count, tf.float32))[None, :]
  if remove_accidental_hits:
    hit = tf.equal(labels[:, None], candidates.sampled[None, :])
    samp_logits = tf.where(hit, tf.float32.min, samp_logits)
  return tf.concat([true_logits[:, None], samp_logits], axis=1)


def sampled_softmax_loss(inputs, labels, table: ClassEmbeddingTable, num_sampled: int | None,
                         sampler: str = "uniform", seed=None,
                         candidates: CandidateSample | None = None, cumulative_counts=None,
                         remove_accidental_hits: bool = True, subtract_log_q: bool = True,
                         global_batch_size: int | None = None) -> tf.Tensor:
  """Sampled softmax cross-entropy of the true cluster ids (CLC).

  Args:
    inputs: float `[B, dim]` item embeddings.
    labels: int `[B]` class ids in `[0, num_classes)`.
    table: The `ClassEmbeddingTable`.
    num_sampled: Classes drawn per step (shared by the batch); ignored if
      `candidates` is given.
    sampler: One of `SAMPLERS`: `uniform` (default), `log_uniform`, `unigram`, `all`.
    seed: Optional stateless seed, see `sample_candidates`.
    cumulative_counts: For `unigram`, see `sample_candidates`.
    candidates: A precomputed `CandidateSample` (overrides the sampler).
    remove_accidental_hits: See the module docstring.
    subtract_log_q: See the module docstring.
    global_batch_size: If given, the loss is `sum / global_batch_size` (a
      replica's share of the global mean under `tf.distribute`); else the mean.

  Returns:
    Scalar float32 loss.
  """
  if candidates is None:
    candidates = sample_candidates(labels, table.num_classes, num_sampled, sampler, seed,
                                   cumulative_counts)
  logits = sampled_softmax_logits(inputs, labels, table, candidates,
                                  remove_accidental_hits, subtract_log_q)
  per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.zeros([tf.shape(logits)[0]], tf.int64), logits=logits)
  if global_batch_size is not None:
    return tf.reduce_sum(per_example) / float(global_batch_size)
  return tf.reduce_mean(per_example)
