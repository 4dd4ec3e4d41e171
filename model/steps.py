"""Optimizers and per-replica step functions of the three training modes.

The same functions run under every strategy (default, mirrored, multi-worker,
TPU): `make_replica_step` returns a function of one per-replica batch, called
via `strategy.run`, that returns per-replica scalars already scaled so that
summing them over the replicas (`ReduceOp.SUM`) gives the global value:

* triplet: `triplet_loss` divides each replica's hinge sum by the GLOBAL
  triplet count under a strategy; its diagnostics are global already, so they
  are divided by the number of replicas here (summed back to the global value).
* clc: `sampled_softmax_loss(global_batch_size=...)`.
* contrastive: in-batch (per replica) negatives on `tfrs.tasks.Retrieval`
  (`model/losses/retrieval.py`), same-cluster negatives masked when the batch
  carries cluster ids (`--cluster_masking`); local mean / num_replicas.
* temporal_contrastive: two clips per video, InfoNCE over the GLOBAL batch's
  clips (gathered across replicas), global loss / num_replicas
  (`model/losses/temporal_contrastive.py`).

Every training step also returns the finite-value guard's outputs (see
`model/nonfinite.py`): `nonfinite` (bit code of what was non-finite, 0 if
nothing), `skipped` (1 when `--on_nonfinite=skip` dropped the update) and
`stop` (1 when training must end at this step). These are the same on every
replica and are not summed.
"""

from __future__ import annotations

import tensorflow as tf

from model import nonfinite
from model.losses import ClassEmbeddingTable, sampled_softmax_loss, triplet_loss
from model.losses.retrieval import in_batch_softmax_loss
from model.losses.triplet import DIAGNOSTICS
from model.losses.temporal_contrastive import global_temporal_contrastive_loss
from model.trainer_config import TrainConfig

GUARD_KEYS = ("nonfinite", "skipped", "stop")


def learning_rate_schedule(config: TrainConfig) -> tf.keras.optimizers.schedules.LearningRateSchedule:
  """Staircase exponential decay: lr * decay_rate ** (step // decay_steps)."""
  trainer = config.trainer
  return tf.keras.optimizers.schedules.ExponentialDecay(
      trainer.learning_rate, trainer.decay_steps, trainer.decay_rate, staircase=True)


def make_optimizer(config: TrainConfig) -> tf.keras.optimizers.Optimizer:
  schedule = learning_rate_schedule(config)
  if config.trainer.optimizer == "rmsprop":
    return tf.keras.optimizers.RMSprop(schedule)
  if config.trainer.optimizer == "sgd":
    return tf.keras.optimizers.SGD(schedule)
  return tf.keras.optimizers.Adam(schedule)


def input_kind(mode: str) -> str:
  """The input contract of a mode: `labels` (6), `frames` (frame-level) or `triplet` (5)."""
  return {"clc": "labels", "temporal_contrastive": "frames"}.get(mode, "triplet")


def make_replica_step(config: TrainConfig, model: tf.keras.Model, optimizer,
                      table: ClassEmbeddingTable | None = None, cumulative_counts=None):
  """Returns `step(batch) -> {name: scalar}`: loss and diagnostics, already summed
  over the replicas (every replica returns the global values), plus the guard's
  `GUARD_KEYS` (float32 scalars); its `output_keys` attribute names them
  (`step_output_keys`). `cumulative_counts`: the unigram sampler's table
  (`--sampler=unigram`)."""
  variables = None
  compute_loss = _loss_function(config, model, optimizer, table, training=True,
                                cumulative_counts=cumulative_counts)

  def step(batch):
    nonlocal variables
    with tf.GradientTape() as tape:
      loss, diag = compute_loss(batch)
      regularization = model.losses
      if regularization:
        # per replica: summed over the replicas, the penalty counts once
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx is not None else 1
        loss += tf.add_n(regularization) / float(replicas)
    if variables is None:
      variables = model.trainable_variables + (table.trainable_variables if table else [])
    grads = tape.gradient(loss, variables)
    ctx = tf.distribute.get_replica_context()
    many = ctx is not None and ctx.num_replicas_in_sync > 1
    if many:
      # Aggregate here, in replica context, so every collective (the mining's
      # all-gathers, then this) runs in the same order on every replica.
      grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    code = nonfinite.update_code(loss, grads)
    if config.trainer.on_nonfinite == "skip":
      skipped = code > 0
      nonfinite.apply_unless(skipped, optimizer, grads, variables, aggregated=many)
    else:  # stop: the update is applied; the trainer keeps nothing after this step
      skipped = tf.constant(False)
      optimizer.apply_gradients(zip(grads, variables), skip_gradients_aggregation=many)
    code = code + nonfinite.variable_code(model.trainable_variables)
    stop = (code & nonfinite.VARIABLE) > 0
    if config.trainer.on_nonfinite == "stop":
      stop = code > 0
    out = {"loss": loss, **diag}
    if many:
      # Summed here (replica context) rather than by `strategy.reduce` after
      # `strategy.run`: collectives launched from both contexts in one graph can
      # clash (seen on MirroredStrategy: "Collective instance ... expected type").
      out = ctx.all_reduce(tf.distribute.ReduceOp.SUM, out)
    guard = {"nonfinite": code, "skipped": skipped, "stop": stop}
    return {**out, **{k: tf.cast(v, tf.float32) for k, v in guard.items()}}

  step.output_keys = step_output_keys(config)
  return step


def step_output_keys(config: TrainConfig) -> tuple[str, ...]:
  """The names a training step of the mode returns: the loss, the triplet
  diagnostics (triplet mode), then `GUARD_KEYS`."""
  diagnostics = DIAGNOSTICS if config.trainer.mode == "triplet" else ()
  return ("loss", *diagnostics, *GUARD_KEYS)


def make_replica_eval_step(config: TrainConfig, model: tf.keras.Model, optimizer,
                           table: ClassEmbeddingTable | None = None, cumulative_counts=None):
  """Returns `eval_step(batch) -> {name: scalar}`: the training objective on a
  held-out batch (no gradients; dropout off), summed over the replicas like
  `make_replica_step`. Triplet and contrastive modes add `triplet_accuracy`,
  the fraction of (anchor, positive, assigned negative) triplets with
  d(a, p) < d(a, n)."""
  compute_loss = _loss_function(config, model, optimizer, table, training=False,
                                cumulative_counts=cumulative_counts)

  def step(batch):
    loss, diag = compute_loss(batch)
    out = {"loss": loss, **diag}
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
      out = ctx.all_reduce(tf.distribute.ReduceOp.SUM, out)
    return out

  return step


def _loss_function(config: TrainConfig, model: tf.keras.Model, optimizer,
                   table: ClassEmbeddingTable | None, training: bool, cumulative_counts=None):
  """`loss(batch) -> (loss, diagnostics)` of the mode, scaled per replica so
  that summing over the replicas gives the global value."""

  def compute_loss(batch):
    ctx = tf.distribute.get_replica_context()
    replicas = float(ctx.num_replicas_in_sync) if ctx is not None else 1.0
    if config.trainer.mode == "temporal_contrastive":
      za, zb = model(batch["a"], training=training), model(batch["b"], training=training)
      return global_temporal_contrastive_loss(za, zb, config.trainer.temperature, batch["video_id"],
                                              batch.get("cluster_id")), {}
    if config.trainer.mode in ("triplet", "contrastive"):
      a, p = model(batch["anchor"], training=training), model(batch["positive"], training=training)
      diag = {}
      if not training:
        n = model(batch["negative"], training=False)
        closer = (tf.reduce_sum(tf.math.squared_difference(a, p), -1) <
                  tf.reduce_sum(tf.math.squared_difference(a, n), -1))
        diag["triplet_accuracy"] = (tf.reduce_sum(tf.cast(closer, tf.float32))
                                    / config.trainer.batch_size)
      if config.trainer.mode == "contrastive":
        loss = in_batch_softmax_loss(a, p, batch["anchor_id"], batch["positive_id"],
                                     temperature=config.trainer.temperature,
                                     anchor_cluster_ids=batch.get("anchor_cluster"),
                                     positive_cluster_ids=batch.get("positive_cluster"))
        return loss / replicas, diag
      n = model(batch["negative"], training=training)
      loss, mined = triplet_loss(a, p, n, anchor_ids=batch["anchor_id"],
                                 positive_ids=batch["positive_id"],
                                 negative_ids=batch["negative_id"], margin=config.trainer.margin,
                                 mining=config.trainer.mining)
      return loss, {**diag, **{k: v / replicas for k, v in mined.items()}}
    emb = model(batch["features"], training=training)
    sampled = config.trainer.num_sampled
    sampler = "all" if not sampled or sampled >= table.num_classes else config.trainer.sampler
    seed = tf.stack([tf.constant(config.runtime.seed, tf.int64),
                     tf.cast(optimizer.iterations, tf.int64)])
    loss = sampled_softmax_loss(emb, batch["label"], table,
                                num_sampled=None if sampler == "all" else sampled,
                                sampler=sampler, seed=seed, cumulative_counts=cumulative_counts,
                                global_batch_size=config.trainer.batch_size)
    return loss, {}

  return compute_loss
