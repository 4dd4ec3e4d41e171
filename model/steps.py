"""Optimizers and per-replica step functions of the three training modes.

The same functions run under every strategy (default, mirrored, multi-worker,
TPU): `make_replica_step` returns a function of one per-replica batch, called
via `strategy.run`, that returns per-replica scalars already scaled so that
summing them over the replicas (`ReduceOp.SUM`) gives the global value:

* triplet: `triplet_loss` divides each replica's hinge sum by the GLOBAL
  triplet count under a strategy; its diagnostics are global already, so they
  are divided by the number of replicas here (summed back to the global value).
* clc: `sampled_softmax_loss(global_batch_size=...)`.
* contrastive: in-batch (per replica) negatives; local mean / num_replicas.
"""

from __future__ import annotations

import tensorflow as tf

from model.losses import ClassEmbeddingTable, contrastive_loss, sampled_softmax_loss, triplet_loss
from model.trainer_config import TrainConfig


def learning_rate_schedule(config: TrainConfig) -> tf.keras.optimizers.schedules.LearningRateSchedule:
  """Staircase exponential decay: lr * decay_rate ** (step // decay_steps)."""
  return tf.keras.optimizers.schedules.ExponentialDecay(
      config.learning_rate, config.decay_steps, config.decay_rate, staircase=True)


def make_optimizer(config: TrainConfig) -> tf.keras.optimizers.Optimizer:
  schedule = learning_rate_schedule(config)
  if config.optimizer == "rmsprop":
    return tf.keras.optimizers.RMSprop(schedule)
  if config.optimizer == "sgd":
    return tf.keras.optimizers.SGD(schedule)
  return tf.keras.optimizers.Adam(schedule)


def input_kind(mode: str) -> str:
  return "labels" if mode == "clc" else "triplet"


def make_replica_step(config: TrainConfig, model: tf.keras.Model, optimizer,
                      table: ClassEmbeddingTable | None = None):
  """Returns `step(batch) -> {name: scalar}`: loss and diagnostics, already summed
  over the replicas (every replica returns the global values)."""
  variables = None

  def compute_loss(batch):
    ctx = tf.distribute.get_replica_context()
    replicas = float(ctx.num_replicas_in_sync) if ctx is not None else 1.0
    if config.mode == "triplet":
      a, p, n = (model(batch[r], training=True) for r in ("anchor", "positive", "negative"))
      loss, diag = triplet_loss(a, p, n, anchor_ids=batch["anchor_id"],
                                positive_ids=batch["positive_id"],
                                negative_ids=batch["negative_id"], margin=config.margin,
                                mining=config.mining)
      return loss, {k: v / replicas for k, v in diag.items()}
    if config.mode == "contrastive":
      a = model(batch["anchor"], training=True)
      p = model(batch["positive"], training=True)
      loss = contrastive_loss(a, p, temperature=config.temperature,
                              anchor_ids=batch["anchor_id"], positive_ids=batch["positive_id"])
      return loss / replicas, {}
    emb = model(batch["features"], training=True)
    n_classes = table.num_classes
    sampled = config.num_sampled
    sampler = "all" if not sampled or sampled >= n_classes else "log_uniform"
    seed = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(optimizer.iterations, tf.int64)])
    loss = sampled_softmax_loss(emb, batch["label"], table,
                                num_sampled=None if sampler == "all" else sampled,
                                sampler=sampler, seed=seed,
                                global_batch_size=config.batch_size)
    return loss, {}

  def step(batch):
    nonlocal variables
    with tf.GradientTape() as tape:
      loss, diag = compute_loss(batch)
      regularization = model.losses
      if regularization:
        loss += tf.add_n(regularization)
    if variables is None:
      variables = model.trainable_variables + (table.trainable_variables if table else [])
    grads = tape.gradient(loss, variables)
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
      # Aggregate here, in replica context, so every collective (the mining's
      # all-gathers, then this) runs in the same order on every replica.
      grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
      optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=True)
    else:
      optimizer.apply_gradients(zip(grads, variables))
    out = {"loss": loss, **diag}
    if ctx is not None and ctx.num_replicas_in_sync > 1:
      # Summed here (replica context) rather than by `strategy.reduce` after
      # `strategy.run`: collectives launched from both contexts in one graph can
      # clash (seen on MirroredStrategy: "Collective instance ... expected type").
      out = ctx.all_reduce(tf.distribute.ReduceOp.SUM, out)
    return out

  return step
