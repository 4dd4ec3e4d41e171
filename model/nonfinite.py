"""The trainer's finite-value guard (`--on_nonfinite=stop|skip`).

Each training step reports what was non-finite as a bit code (`LOSS`,
`GRADIENT`, `VARIABLE`), checked on the device: the loss and every gradient
(after the cross-replica sum, so every replica sees the same code) before the
update, the trainable variables after it. `stop` applies the update anyway
and ends the loop at that step; the trainer then raises `NonFiniteError`
(one line, exit status 2) and saves no checkpoint and no export after it.
`skip` applies no update for a non-finite loss or gradient (the step counter
still advances, so a run of bad batches cannot loop forever) and counts it;
a non-finite variable after a finite update still stops.
"""

from __future__ import annotations

import tensorflow as tf

from model.errors import ConfigError

LOSS, GRADIENT, VARIABLE = 1, 2, 4
_NAMES = ((LOSS, "loss"), (GRADIENT, "gradient"), (VARIABLE, "variable"))


class NonFiniteError(ConfigError):
  """Training met a non-finite value; reported in one line by `gcml` (exit 2)."""


def describe(code: int) -> str:
  """`'loss, gradient and variable'` for the bit code."""
  names = [name for bit, name in _NAMES if int(code) & bit]
  if len(names) > 1:
    return ", ".join(names[:-1]) + " and " + names[-1]
  return names[0] if names else "nothing"


def error(step: int, code: int, model_dir: str) -> NonFiniteError:
  """The one-line error naming the step."""
  return NonFiniteError(
      f"non-finite {describe(code)} at step {step}; training stopped, nothing saved or "
      f"exported after it (the last checkpoint in {model_dir}/checkpoints is from before). "
      "Check the inputs for NaN/inf or huge values, lower --learning_rate, or pass "
      "--on_nonfinite=skip")


def _all_finite(tensors) -> tf.Tensor:
  checks = []
  for t in tensors:
    if t is None:
      continue
    if isinstance(t, tf.IndexedSlices):
      t = t.values
    checks.append(tf.reduce_all(tf.math.is_finite(t)))
  return tf.reduce_all(tf.stack(checks)) if checks else tf.constant(True)


def update_code(loss, grads) -> tf.Tensor:
  """int32 bits LOSS | GRADIENT of what is non-finite, the same on every replica."""
  bad = tf.stack([tf.cast(tf.logical_not(_all_finite([loss])), tf.float32),
                  tf.cast(tf.logical_not(_all_finite(grads)), tf.float32)])
  ctx = tf.distribute.get_replica_context()
  if ctx is not None and ctx.num_replicas_in_sync > 1:
    # One replica's non-finite loss is everyone's (ReduceOp has no MAX: SUM > 0).
    bad = ctx.all_reduce(tf.distribute.ReduceOp.SUM, bad)
  return tf.where(bad[0] > 0, LOSS, 0) + tf.where(bad[1] > 0, GRADIENT, 0)


def variable_code(variables) -> tf.Tensor:
  """int32 VARIABLE if a variable holds a non-finite value, else 0."""
  return tf.where(_all_finite([tf.convert_to_tensor(v) for v in variables]), 0, VARIABLE)


class _Unwrapped:
  """A holder `tf.distribute` does not unwrap (mirrored variables stay mirrored),
  as Keras' LossScaleOptimizer does."""

  __slots__ = ["value"]

  def __init__(self, value):
    self.value = value


def apply_unless(skip: tf.Tensor, optimizer, grads, variables, aggregated: bool) -> None:
  """`optimizer.apply_gradients` unless `skip`; when skipped, only the step counter advances.

  Args:
    skip: bool scalar, the same on every replica.
    optimizer: A Keras optimizer.
    grads: The gradients (already summed over the replicas when `aggregated`).
    variables: The variables.
    aggregated: Passed on as `skip_gradients_aggregation`.
  """
  def apply_fn(grads, holder):
    optimizer.apply_gradients(zip(grads, holder.value), skip_gradients_aggregation=aggregated)

  def skip_fn():
    optimizer.iterations.assign_add(1, read_value=False)

  holder = _Unwrapped(list(variables))
  if tf.__internal__.distribute.strategy_supports_no_merge_call():
    tf.cond(skip, skip_fn, lambda: apply_fn(grads, holder))
    return

  # A cond whose branch calls merge_call (apply_gradients does under mirrored
  # strategies) must run in cross-replica context.
  def cross_replica(strategy, skip, grads, holder):
    skip = strategy.experimental_local_results(skip)[0]
    tf.cond(skip, skip_fn,
            lambda: strategy.extended.call_for_each_replica(apply_fn, args=(grads, holder)))

  tf.distribute.get_replica_context().merge_call(cross_replica, args=(skip, grads, holder))
