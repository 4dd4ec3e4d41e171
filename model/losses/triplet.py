"""Triplet hinge loss with online semi-hard negative mining (CDML, GCML).

Definitions (shared with the numpy reference in tests/model/losses/test_triplet.py):

* Distance: squared L2, `d(x, y) = ||x - y||^2` (the model's embeddings are
  L2-normalised, but nothing here assumes it).
* Candidates: every item of the (global) batch, i.e. all anchors, positives and
  negatives, except those whose id equals the anchor's id or the positive's id
  (so the anchor itself, its positive and any duplicate of either are out). A
  candidate with the assigned negative's id is the assigned negative.
* Semi-hard: a candidate `c` qualifies for triplet `(a, p)` when
  `d(a, c) >= d(a, p)` (NOT strictly greater: "at least as far", as in
  DESIGN.md and the GCML paper's "as close as or farther than the positive").
  The chosen negative is the qualifying candidate of smallest `d(a, c)` (ties:
  any of the tied candidates). If none qualifies, the assigned negative is kept.
* Loss: `mean_i max(0, d(a_i, p_i) - d(a_i, n*_i) + margin)`, margin 0.5.
  The selection is a discrete, gradient-free choice; the gradient flows through
  the distances to the chosen negatives (and to the positives and anchors).
* Margin of a negative: `d(a, n) - d(a, p)` (the GCML paper's Table 3), so a
  chosen semi-hard negative always has margin >= 0.
* Usage ratio: fraction of triplets whose chosen negative has the assigned
  negative's id (the fall-back case, no semi-hard candidate, counts as used).

Ids are int64 per item, e.g. hashed string ids:
`tf.strings.to_hash_bucket_fast(ids, 2**63 - 1)` (see `hash_ids`); integer ops
only, so the search also compiles for TPU. String ids passed here are hashed
on the fly (CPU/GPU only). Without ids, items are told apart by position only.

Exact ties: the threshold `d(a, p)` and the distances that decide a
candidate are the same expression, `sum((a - c)^2)` (`_sq_dist`), so a
candidate exactly as far as the positive qualifies, as the ">=" rule says;
the blocked search ranks candidates by the faster expanded form and leaves
every decision within its rounding bound to that exact expression (see
`semihard_negatives`).

Memory: the search runs over blocks of `block_size` candidates, holding
`[B, block_size]` distances at a time (O(B*C) time, O(B*block) memory, never a
B x B x B tensor) and keeps no activations for the backward pass.

Under `tf.distribute` (inside `strategy.run`, `num_replicas_in_sync > 1`) the
candidate pool is the global batch, gathered with `ReplicaContext.all_gather`
(its gradient all-reduces and slices, so gradients reach the replica that owns
each chosen negative). Each replica's loss covers its local triplets and is
divided by the GLOBAL number of triplets, so the per-replica losses sum to the
global mean and per-replica gradients sum (as optimizers do across replicas) to
the single-device gradient. Diagnostics are all-reduced: global values.
"""

from __future__ import annotations

import typing

import tensorflow as tf

DIAGNOSTICS = ("usage_ratio", "no_semihard_fraction", "active_fraction",
               "assigned_margin_mean", "assigned_margin_std",
               "chosen_margin_mean", "chosen_margin_std")


class SemihardChoice(typing.NamedTuple):
  """Result of the search: per triplet, the chosen candidate and if found.

  Attributes:
    index: int32 `[B]`, index into the candidates, -1 where none qualified.
    found: bool `[B]`, a semi-hard candidate exists.
  """
  index: tf.Tensor
  found: tf.Tensor


def hash_ids(ids: tf.Tensor) -> tf.Tensor:
  """String ids to int64 ids for mining (`to_hash_bucket_fast`, 2**63-1 buckets)."""
  ids = tf.convert_to_tensor(ids)
  if ids.dtype == tf.string:
    return tf.strings.to_hash_bucket_fast(ids, 2**63 - 1)
  return tf.cast(ids, tf.int64)


def _sq_dist(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
  """`sum((x - y)^2)` over the last axis: THE distance of this module.

  The semi-hard threshold `d(a, p)` and the distances that decide a candidate
  are this same elementwise expression, reduced over the last axis of tensors
  of the same rank, so a candidate exactly as far as the positive (e.g. a copy
  of the positive under another id) compares equal and is kept by ">=".
  """
  return tf.reduce_sum(tf.math.squared_difference(x, y), axis=-1)


def semihard_negatives(anchors, positives, candidates, anchor_ids, positive_ids,
                       candidate_ids, block_size: int = 1024,
                       num_exact: int = 8) -> SemihardChoice:
  """Finds each triplet's semi-hard negative among the candidates, in blocks.

  No gradient: the inputs are read under `stop_gradient`.

  Two passes keep both the speed of a matrix product and the exact ">=":
  1. Over blocks of candidates, the expanded form
     `e = |c|^2 - 2 a.c + |a|^2` (one matmul per block) with a bound `tol` on
     its rounding error, `tol = 4 D eps (|a| + |c|)^2` (eps of the dtype), keeps
     per triplet the `num_exact` candidates of smallest `e` among those with
     `e + tol >= d(a, p)` (every candidate that may qualify), and the one of
     smallest `e` among those with `e - tol >= d(a, p)` (surely qualifying).
  2. For those `num_exact` candidates, the distances in the same form as the
     threshold (`_sq_dist`) decide exactly: the chosen negative is the
     qualifying one of smallest distance; if none qualifies, the surely
     qualifying one of pass 1; else none.
  The result is the exact rule's choice unless `num_exact` or more candidates
  crowd within `2 tol` of it (rounding-level near-ties); then it is one of
  them, or the surely qualifying one. The bound assumes float32 (or float64)
  matmuls: with TensorFloat-32 (GPU) or bfloat16 passes (TPU) for float32
  matmuls, turn those off (`tf.config.experimental.enable_tensor_float_32_execution(False)`)
  for the guarantee.

  Args:
    anchors: `[B, D]` float embeddings.
    positives: `[B, D]` float embeddings.
    candidates: `[C, D]` float embeddings (the pool).
    anchor_ids: `[B]` int64 ids of the anchors.
    positive_ids: `[B]` int64 ids of the positives.
    candidate_ids: `[C]` int64 ids of the candidates.
    block_size: Candidates per block; pass 1 holds a few `[B, block_size]`
      tensors at a time.
    num_exact: Candidates per triplet decided exactly in pass 2.

  Returns:
    A `SemihardChoice` (index into candidates, found).
  """
  a = tf.stop_gradient(anchors)
  p = tf.stop_gradient(positives)
  c = tf.stop_gradient(candidates)
  num_c = tf.shape(c)[0]
  if c.shape[0] is not None:  # no padding beyond a small pool
    block_size = max(1, min(block_size, c.shape[0]))
  block = tf.constant(block_size, tf.int32)
  num_blocks = (num_c + block - 1) // block
  pad = num_blocks * block - num_c
  c = tf.pad(c, [[0, pad], [0, 0]])
  c_sq = tf.reduce_sum(c * c, axis=1)
  c_ids = tf.pad(candidate_ids, [[0, pad]])
  c_real = tf.range(num_blocks * block) < num_c  # padding rows never qualify
  a_sq = tf.reduce_sum(a * a, axis=1)
  threshold = _sq_dist(a[:, None, :], p[:, None, :])  # [B, 1], the form of pass 2
  # Rounding bound of e against the direct form (both computed in a.dtype).
  eps = 4.0 * tf.cast(tf.shape(a)[1], a.dtype) * (2.0**-52 if a.dtype == tf.float64 else 2.0**-23)
  a_norm, c_norm = tf.sqrt(a_sq)[:, None], tf.sqrt(c_sq)
  a_ids, p_ids = anchor_ids[:, None], positive_ids[:, None]
  inf = tf.constant(float("inf"), a.dtype)
  batch = tf.shape(a)[0]

  def body(i, sure_e, sure_i, near_score, near_i):
    start = i * block
    cb = tf.slice(c, [start, 0], [block_size, -1])
    e = (tf.slice(c_sq, [start], [block_size])[None, :] - 2.0 * tf.matmul(a, cb, transpose_b=True)
         + a_sq[:, None])
    tol = eps * tf.square(a_norm + tf.slice(c_norm, [start], [block_size])[None, :])
    ids_b = tf.slice(c_ids, [start], [block_size])[None, :]
    valid = (ids_b != a_ids) & (ids_b != p_ids) & tf.slice(c_real, [start], [block_size])[None, :]
    index = start + tf.range(block_size)
    # Surely qualifying: the smallest e (earliest block wins ties).
    e_sure = tf.where(valid & (e - tol >= threshold), e, inf)
    block_best = tf.reduce_min(e_sure, axis=1)
    better = block_best < sure_e
    sure_i = tf.where(better, tf.argmin(e_sure, axis=1, output_type=tf.int32) + start, sure_i)
    sure_e = tf.where(better, block_best, sure_e)
    # Maybe qualifying: keep the num_exact of smallest e.
    score = tf.concat([near_score, tf.where(valid & (e + tol >= threshold), -e, -inf)], axis=1)
    ids = tf.concat([near_i, tf.broadcast_to(index[None, :], tf.shape(e))], axis=1)
    near_score, pos = tf.math.top_k(score, k=num_exact, sorted=False)
    return i + 1, sure_e, sure_i, near_score, tf.gather(ids, pos, batch_dims=1)

  minus_one = tf.constant(-1, tf.int32)
  _, _, sure_i, near_score, near_i = tf.while_loop(
      lambda i, *_: i < num_blocks, body,
      (tf.constant(0), tf.fill([batch], inf), tf.fill([batch], minus_one),
       tf.fill([batch, num_exact], -inf), tf.fill([batch, num_exact], minus_one)),
      parallel_iterations=1)
  # Pass 2: exact decision among the kept candidates.
  d = _sq_dist(a[:, None, :], tf.gather(c, tf.maximum(near_i, 0)))  # [B, num_exact]
  ok = (near_score > -inf) & (d >= threshold)
  exact = tf.gather(near_i, tf.argmin(tf.where(ok, d, inf), axis=1, output_type=tf.int32),
                    batch_dims=1)
  best_i = tf.where(tf.reduce_any(ok, axis=1), exact, sure_i)
  found = best_i >= 0
  return SemihardChoice(tf.stop_gradient(best_i), tf.stop_gradient(found))


@tf.custom_gradient
def dense_gradient(x):
  """Identity whose gradient is a dense tensor.

  The gradient of `tf.gather` is `IndexedSlices`, which the gradient of
  `ReplicaContext.all_gather` cannot take.
  """
  return tf.identity(x), lambda dy: tf.convert_to_tensor(dy)


def multi_replica_context():
  """The replica context under a strategy of more than one replica, else None."""
  ctx = tf.distribute.get_replica_context()
  if ctx is None or ctx.num_replicas_in_sync <= 1:
    return None
  return ctx


def triplet_loss(anchors, positives, negatives, anchor_ids=None, positive_ids=None,
                 negative_ids=None, margin: float = 0.5, mining: str = "semihard",
                 block_size: int = 1024, gather_across_replicas: bool = True):
  """Triplet hinge loss with online semi-hard mining over the (global) batch.

  See the module docstring for the exact definitions.

  Args:
    anchors: `[B, D]` float embeddings of the anchors.
    positives: `[B, D]` float embeddings of the positives.
    negatives: `[B, D]` float embeddings of the assigned negatives.
    anchor_ids: `[B]` int64 (or string, hashed here) item ids; all three id
      tensors or none. Without ids every item is distinct.
    positive_ids: `[B]` ids of the positives.
    negative_ids: `[B]` ids of the assigned negatives.
    margin: Hinge margin alpha.
    mining: `semihard` (default) or `none` (use the assigned negatives; then
      usage_ratio is 1 and no_semihard_fraction 0 by definition).
    block_size: Candidates per block of the search.
    gather_across_replicas: Under a multi-replica strategy, mine over the
      global batch (all_gather); if False, over the local batch only.

  Returns:
    `(loss, diagnostics)`: the scalar loss (this replica's share of the global
    mean, see the module docstring; the plain mean on one device) and a dict of
    scalar tensors named in `DIAGNOSTICS`, over the global batch.
  """
  if mining not in ("semihard", "none"):
    raise ValueError(f"mining must be 'semihard' or 'none', got {mining!r}")
  anchors = tf.convert_to_tensor(anchors)
  dtype = anchors.dtype if anchors.dtype in (tf.float32, tf.float64) else tf.float32
  anchors, positives, negatives = (tf.cast(x, dtype) for x in (anchors, positives, negatives))
  batch = tf.shape(anchors)[0]
  ctx = multi_replica_context() if gather_across_replicas else None
  given = [x is not None for x in (anchor_ids, positive_ids, negative_ids)]
  if any(given) and not all(given):
    raise ValueError("pass all of anchor_ids, positive_ids, negative_ids or none")

  if all(given):
    ids = [hash_ids(x) for x in (anchor_ids, positive_ids, negative_ids)]
  else:  # positions, unique over the global batch
    offset = tf.constant(0, tf.int64)
    if ctx is not None:
      sizes = ctx.all_gather(tf.reshape(tf.cast(batch, tf.int64), [1]), axis=0)
      offset = 3 * tf.reduce_sum(sizes[:ctx.replica_id_in_sync_group])
    pos = offset + tf.range(3 * tf.cast(batch, tf.int64), dtype=tf.int64)
    ids = tf.split(pos, 3)
  anchor_ids, positive_ids, negative_ids = ids

  d_ap = _sq_dist(anchors, positives)
  d_an = _sq_dist(anchors, negatives)
  if mining == "semihard":
    pool = tf.concat([anchors, positives, negatives], axis=0)
    pool_ids = tf.concat([anchor_ids, positive_ids, negative_ids], axis=0)
    if ctx is not None:
      pool = dense_gradient(ctx.all_gather(pool, axis=0))  # differentiable
      pool_ids = ctx.all_gather(pool_ids, axis=0)
    choice = semihard_negatives(anchors, positives, pool, anchor_ids, positive_ids,
                                pool_ids, block_size=block_size)
    safe = tf.maximum(choice.index, 0)
    chosen = tf.where(choice.found[:, None], tf.gather(pool, safe), negatives)
    chosen_ids = tf.where(choice.found, tf.gather(pool_ids, safe), negative_ids)
    d_cn = _sq_dist(anchors, chosen)
    found = choice.found
  else:
    # The assigned negative is "chosen"; no search, so nothing is missing.
    d_cn, chosen_ids, found = d_an, negative_ids, tf.ones([batch], tf.bool)

  hinge = tf.nn.relu(d_ap - d_cn + margin)
  local_n = tf.cast(batch, dtype)
  global_n = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local_n) if ctx is not None else local_n
  loss = tf.reduce_sum(hinge) / tf.maximum(global_n, 1.0)
  return loss, _diagnostics(ctx, d_ap, d_an, d_cn, hinge, found, chosen_ids, negative_ids)


def _diagnostics(ctx, d_ap, d_an, d_cn, hinge, found, chosen_ids, negative_ids):
  """Global means and population stds of the per-triplet statistics."""
  f = lambda x: tf.cast(tf.stop_gradient(x), d_ap.dtype)  # noqa: E731
  assigned_m, chosen_m = f(d_an - d_ap), f(d_cn - d_ap)
  used = f(tf.equal(chosen_ids, negative_ids))  # the fall-back keeps the assigned id
  sums = tf.stack([
      tf.cast(tf.size(hinge), d_ap.dtype), tf.reduce_sum(used),
      tf.reduce_sum(1.0 - f(found)), tf.reduce_sum(f(hinge > 0)),
      tf.reduce_sum(assigned_m), tf.reduce_sum(assigned_m * assigned_m),
      tf.reduce_sum(chosen_m), tf.reduce_sum(chosen_m * chosen_m)])
  if ctx is not None:
    sums = ctx.all_reduce(tf.distribute.ReduceOp.SUM, sums)
  n = tf.maximum(sums[0], 1.0)
  mean = lambda i: sums[i] / n  # noqa: E731
  std = lambda i: tf.sqrt(tf.maximum(sums[i + 1] / n - mean(i) ** 2, 0.0))  # noqa: E731
  return {
      "usage_ratio": mean(1), "no_semihard_fraction": mean(2), "active_fraction": mean(3),
      "assigned_margin_mean": mean(4), "assigned_margin_std": std(4),
      "chosen_margin_mean": mean(6), "chosen_margin_std": std(6),
  }
