"""Contrastive loss (InfoNCE / NT-Xent) over graph-neighbour pairs, with
optional pseudo-label (cluster) masking.

Definitions (shared with tests/model/losses/test_contrastive.py):

* A batch holds B pairs `(a_i, p_i)`, `p_i` a graph neighbour of `a_i`.
  Similarities are dot products (cosine on the model's L2-normalised output).
* Row i's candidates are the in-batch positives `p_j` (logit `a_i . p_j / t`);
  with `anchor_negatives=True` also the other anchors `a_j`, j != i (logit
  `a_i . a_j / t`; the anchor itself is never a candidate). The label is the
  diagonal `p_i`. Temperature t defaults to 0.1.
* Masking (logit -> -inf, i.e. not a negative), never the diagonal `p_i`:
  - duplicates: candidates whose item id equals the id of `p_i` or of `a_i`
    (when ids are given);
  - pseudo-labels: candidates whose cluster id equals the anchor's cluster id
    (when cluster ids are given): items of the anchor's cluster are not pushed
    away (the cluster-guided contrastive variant). A candidate cluster id of
    -1 means unknown (an item without a cluster) and never matches.
* Loss: mean over anchors of the softmax cross-entropy; with `symmetric=True`
  the average of the a->p and p->a directions (SimCLR's NT-Xent is symmetric).
  A row whose negatives are all masked has loss 0.
"""

from __future__ import annotations

import tensorflow as tf


def _same(x, y):
  return tf.equal(x[:, None], y[None, :])


def _one_direction(anchors, positives, temperature, anchor_ids, positive_ids,
                   anchor_clusters, positive_clusters, anchor_negatives):
  batch = tf.shape(anchors)[0]
  eye = tf.eye(batch, dtype=tf.bool)
  blocks = [(tf.matmul(anchors, positives, transpose_b=True), positive_ids, positive_clusters,
             tf.zeros_like(eye))]
  if anchor_negatives:
    blocks.append((tf.matmul(anchors, anchors, transpose_b=True), anchor_ids, anchor_clusters, eye))
  logits, masks = [], []
  for k, (sim, cand_ids, cand_clusters, mask) in enumerate(blocks):
    if anchor_ids is not None:
      mask |= _same(positive_ids, cand_ids) | _same(anchor_ids, cand_ids)
    if anchor_clusters is not None:
      mask |= _same(anchor_clusters, cand_clusters) & (cand_clusters != -1)[None, :]
    if k == 0:
      mask &= ~eye  # the label p_i itself is never masked
    logits.append(sim / temperature)
    masks.append(mask)
  logits = tf.concat(logits, axis=1)
  mask = tf.concat(masks, axis=1)
  logits = tf.where(mask, tf.constant(float("-inf"), logits.dtype), logits)
  per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.range(batch), logits=logits)
  return tf.reduce_mean(per_row)


def contrastive_loss(anchors, positives, temperature: float = 0.1, anchor_ids=None,
                     positive_ids=None, anchor_cluster_ids=None, positive_cluster_ids=None,
                     anchor_negatives: bool = False, symmetric: bool = False) -> tf.Tensor:
  """InfoNCE / NT-Xent over in-batch pairs with duplicate and cluster masking.

  Args:
    anchors: float `[B, D]` embeddings (L2-normalised for cosine similarity).
    positives: float `[B, D]` embeddings of graph neighbours of the anchors.
    temperature: Softmax temperature t > 0.
    anchor_ids: Optional int64 `[B]` item ids (hash string ids first); with
      `positive_ids`, masks duplicates of the anchor or the positive.
    positive_ids: Optional int64 `[B]` item ids of the positives.
    anchor_cluster_ids: Optional int `[B]` pseudo-labels (cluster ids) of the
      anchors; masks candidates of the anchor's cluster.
    positive_cluster_ids: Cluster ids of the positives; defaults to the
      anchors' (positives are neighbours, usually in the same cluster).
    anchor_negatives: Also use the other anchors as negatives.
    symmetric: Average with the positives -> anchors direction.

  Returns:
    Scalar loss (mean over rows).
  """
  if temperature <= 0:
    raise ValueError(f"temperature must be positive, got {temperature}")
  anchors = tf.convert_to_tensor(anchors)
  positives = tf.cast(positives, anchors.dtype)
  if (anchor_ids is None) != (positive_ids is None):
    raise ValueError("pass both anchor_ids and positive_ids or neither")
  ids = [None, None]
  if anchor_ids is not None:
    ids = [tf.cast(anchor_ids, tf.int64), tf.cast(positive_ids, tf.int64)]
  clusters = [None, None]
  if anchor_cluster_ids is not None:
    ac = tf.cast(anchor_cluster_ids, tf.int64)
    pc = ac if positive_cluster_ids is None else tf.cast(positive_cluster_ids, tf.int64)
    clusters = [ac, pc]
  loss = _one_direction(anchors, positives, temperature, ids[0], ids[1], clusters[0],
                        clusters[1], anchor_negatives)
  if symmetric:
    loss = 0.5 * (loss + _one_direction(positives, anchors, temperature, ids[1], ids[0],
                                        clusters[1], clusters[0], anchor_negatives))
  return loss
