"""The trainer's contrastive loss on TFRS: in-batch softmax with cluster masking.

`in_batch_softmax_loss` is `tfrs.tasks.Retrieval` (tensorflow-recommenders)
over B (anchor, positive) pairs: logits `a_i . p_j / t` for every in-batch
positive p_j, label the diagonal p_i, softmax cross-entropy, mean over rows.
What is masked (not a negative of row i), never the label p_i itself:

* accidental hits: candidates with the item id of p_i. This is TFRS's own
  `remove_accidental_hits` with `candidate_ids` = the positives' item ids. It
  compares every candidate with the id of the row's POSITIVE (the label's
  candidate id) and subtracts the label, so the diagonal is always kept.
* candidates with the item id of the anchor a_i, and, with cluster ids, the
  candidates whose cluster id equals the ANCHOR's cluster id (same-cluster
  negatives: the pseudo-label rule). Both are TFRS's `score_mask`. Passing the
  cluster ids as `candidate_ids` instead would mask the candidates of the
  POSITIVE's cluster (the same thing only when p_i is in a_i's cluster) and
  would lose the item-id accidental hits of positives without a cluster.
* Cluster id -1 means "unknown" (a positive without a cluster row): it never
  matches.

Masked logits become TFRS's `MIN_FLOAT` (float32 min / 100), whose softmax
weight is exactly 0, so the loss equals `contrastive_loss` (the plain-TF
reference in `contrastive.py`, which also has symmetric and anchor-negative
variants TFRS has no slot for) with `anchor_ids`/`positive_ids` and
`anchor_cluster_ids`/`positive_cluster_ids`. A row whose negatives are all
masked has loss 0.

`candidate_sampling_probability` (optional, `[B]`) is TFRS's log-Q
correction: logit_ij -= log(clip(q_j, 1e-6, 1)).
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_recommenders as tfrs

UNKNOWN_CLUSTER = -1


def _same(x, y):
  return tf.equal(x[:, None], y[None, :])


def in_batch_softmax_loss(anchors, positives, anchor_ids, positive_ids,
                          temperature: float = 0.1, anchor_cluster_ids=None,
                          positive_cluster_ids=None,
                          candidate_sampling_probability=None) -> tf.Tensor:
  """In-batch softmax (InfoNCE, anchors -> positives) on `tfrs.tasks.Retrieval`.

  Args:
    anchors: float `[B, D]` query embeddings.
    positives: float `[B, D]` candidate embeddings; row i is anchor i's label.
    anchor_ids: int64 `[B]` item ids of the anchors (hashed string ids).
    positive_ids: int64 `[B]` item ids of the positives.
    temperature: softmax temperature t > 0.
    anchor_cluster_ids: optional int64 `[B]` cluster ids of the anchors: a
      candidate whose cluster id equals the anchor's is masked.
    positive_cluster_ids: int64 `[B]` cluster ids of the positives (needed
      with `anchor_cluster_ids`); `UNKNOWN_CLUSTER` never matches.
    candidate_sampling_probability: optional float `[B]`: the probability of
      each positive appearing as an in-batch candidate (log-Q correction).

  Returns:
    Scalar: the mean over the B rows.

  Raises:
    ValueError: a non-positive temperature, or only one of the cluster ids.
  """
  if temperature <= 0:
    raise ValueError(f"temperature must be positive, got {temperature}")
  if (anchor_cluster_ids is None) != (positive_cluster_ids is None):
    raise ValueError("pass both anchor_cluster_ids and positive_cluster_ids or neither")
  anchors = tf.convert_to_tensor(anchors)
  positives = tf.cast(positives, anchors.dtype)
  anchor_ids = tf.cast(anchor_ids, tf.int64)
  positive_ids = tf.cast(positive_ids, tf.int64)
  masked = _same(anchor_ids, positive_ids)
  if anchor_cluster_ids is not None:
    anchor_clusters = tf.cast(anchor_cluster_ids, tf.int64)
    positive_clusters = tf.cast(positive_cluster_ids, tf.int64)
    known = tf.not_equal(positive_clusters, UNKNOWN_CLUSTER)[None, :]
    masked |= _same(anchor_clusters, positive_clusters) & known
  batch = tf.shape(anchors)[0]
  score_mask = ~masked | tf.eye(batch, dtype=tf.bool)
  task = tfrs.tasks.Retrieval(
      loss=tf.keras.losses.CategoricalCrossentropy(
          from_logits=True, reduction=tf.keras.losses.Reduction.NONE),
      temperature=temperature, remove_accidental_hits=True)
  # AutoGraph on for TFRS's call (it takes `len` of a shape tensor), also when
  # the caller traces without it (the trainer's loop, `model/train_loop.py`).
  per_row = tf.autograph.to_graph(_call_task)(
      task, anchors, positives, candidate_sampling_probability=candidate_sampling_probability,
      candidate_ids=positive_ids, compute_metrics=False, compute_batch_metrics=False,
      score_mask=score_mask)
  return tf.reduce_mean(per_row)


def _call_task(task, *args, **kwargs):
  return task(*args, **kwargs)
