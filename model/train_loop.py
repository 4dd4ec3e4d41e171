"""N training steps per host call (`--steps_per_loop`), as Keras' `steps_per_execution`.

`make_train_loop(strategy, replica_step)` returns a `tf.function`
`loop(iterator, num_steps) -> (metrics, losses)` that runs up to `num_steps`
steps of `replica_step` (via `strategy.run`) in one `tf.while_loop`, the way
TF's custom-training-loop guide runs several steps per call on TPUs. Nothing
leaves the device between steps; the host reads the results once per loop:

* `metrics`: float32 scalars, each metric's mean over the loop's steps that
  applied an update (the same on every replica, taken from the first local
  replica, as every replica step returns global values), `skipped` summed,
  `nonfinite` and `stop` of the last step run, and `steps`, the steps run.
* `losses`: float32 `[steps]`, the loss of every step run.

The loop ends early after a step whose `stop` is set (the finite-value
guard, `model/nonfinite.py`), so that step is the last one to touch the
variables. `num_steps` is a tensor: loops of any length share one trace.

`make_loop_runner` drives the loop from the host: one call per loop, or under
`ParameterServerStrategy` loops scheduled on the workers by a
`ClusterCoordinator` (the loop, its per-worker iterator included, runs on the
worker, as Keras schedules `steps_per_execution`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from model.steps import GUARD_KEYS


def make_train_loop(strategy: tf.distribute.Strategy, replica_step):
  """Builds the in-function loop.

  Args:
    strategy: The strategy whose `run` calls `replica_step`.
    replica_step: `step(batch) -> {name: scalar}` from `model.steps.make_replica_step`,
      with `output_keys`, the names it returns.

  Returns:
    `loop(iterator, num_steps)`, a `tf.function` (see the module docstring).
  """

  keys = tuple(replica_step.output_keys)

  def one_step(iterator):
    out = strategy.run(replica_step, args=(next(iterator),))
    if set(out) != set(keys):
      raise ValueError(f"the step returned {sorted(out)}, its output_keys say {sorted(keys)}")
    return {k: tf.cast(strategy.experimental_local_results(v)[0], tf.float32)
            for k, v in out.items()}

  def add(sums, out):
    kept = 1.0 - out["skipped"]  # a skipped step's loss (NaN or inf) stays out of the means
    new = {k: sums[k] + tf.where(kept > 0, out[k], 0.0) for k in sums if k not in GUARD_KEYS}
    new["skipped"] = sums["skipped"] + out["skipped"]
    new["nonfinite"], new["stop"] = out["nonfinite"], out["stop"]
    return new

  # No AutoGraph: the loop is an explicit `tf.while_loop` and the steps branch
  # on Python values only (a tensor in a Python `if` fails the trace), so
  # converting the whole call tree (model, losses, optimizer) would build the
  # same graph at several times the tracing cost. Every step runs in the loop's
  # body (none peeled off before it), so a step is the same graph, and gives
  # the same bits, whatever `num_steps` is.
  @tf.function(autograph=False)
  def loop(iterator, num_steps):
    num_steps = tf.cast(num_steps, tf.int32)
    sums = {k: tf.constant(0.0) for k in keys}
    losses = tf.TensorArray(tf.float32, size=num_steps, element_shape=[])

    def cond(i, sums, losses):
      return (i < num_steps) & tf.equal(sums["stop"], 0.0)

    def body(i, sums, losses):
      out = one_step(iterator)
      return i + 1, add(sums, out), losses.write(i, out["loss"])

    steps, sums, losses = tf.while_loop(cond, body, (tf.constant(0), sums, losses))
    applied = tf.maximum(tf.cast(steps, tf.float32) - sums["skipped"], 1.0)
    metrics = {k: (v if k in GUARD_KEYS else v / applied) for k, v in sums.items()}
    metrics["steps"] = tf.cast(steps, tf.float32)
    return metrics, losses.stack()[:steps]

  return loop


def make_loop_runner(strategy: tf.distribute.Strategy, loop, make_dataset, steps_per_loop: int):
  """Host side of the loop.

  Args:
    strategy: The training strategy.
    loop: From `make_train_loop`.
    make_dataset: `() -> distributed dataset` of the training input.
    steps_per_loop: Steps per loop (per scheduled function under PS).

  Returns:
    `(run_steps, join)`: `run_steps(n) -> (metrics, losses)` runs n steps (one
    loop unless PS: loops of up to `steps_per_loop` there, asynchronous, waited
    for; metrics of the last loop, `skipped` summed, `stop` if any stopped) as
    Python floats; `join()` waits for scheduled work (a no-op unless PS).
  """
  if not isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
    iterator = iter(make_dataset())

    def run_steps(n):
      metrics, losses = loop(iterator, tf.constant(n))
      return {k: float(v) for k, v in metrics.items()}, [float(x) for x in losses.numpy()]

    return run_steps, lambda: None

  # Tested on an in-process cluster (tests/model/test_parameter_server.py);
  # worker servers need inter_op_parallelism_threads > number of workers there.
  coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
  iterator = iter(coordinator.create_per_worker_dataset(tf.function(make_dataset)))

  def run_steps(n):
    sizes = [steps_per_loop] * (n // steps_per_loop) + ([n % steps_per_loop] if n % steps_per_loop
                                                        else [])
    remote = [coordinator.schedule(loop, args=(iterator, tf.constant(k))) for k in sizes]
    coordinator.join()
    fetched = [r.fetch() for r in remote]
    metrics = {k: float(v) for k, v in fetched[-1][0].items()}
    metrics["skipped"] = sum(float(m["skipped"]) for m, _ in fetched)
    stopped = [m for m, _ in fetched if float(m["stop"])]
    if stopped:
      metrics.update(stop=1.0, nonfinite=float(stopped[0]["nonfinite"]))
    return metrics, [float(x) for _, losses in fetched for x in np.ravel(losses)]

  return run_steps, coordinator.join
