"""Custom training loop shared by all strategies (`gcml train`).

`train(config)` builds the strategy, the distributed `tf.data` input, the
model (plus the CLC class table) and optimizer under the strategy's scope,
restores the latest checkpoint of `model_dir` (same step counter,
`optimizer.iterations`, and optimizer state), runs loops of up to
`steps_per_loop` steps per host call (`model/train_loop.py`: a loop inside one
`tf.function` over `strategy.run`) until `train_steps`, saving a checkpoint every
`checkpoint_every` steps and on exit (end, Ctrl-C, SIGTERM), writes
TensorBoard scalars to `model_dir/train`, evaluates on `eval_data` every
`eval_interval()` steps and at the end (scalars in `model_dir/eval`), and exports the SavedModel to
`model_dir/export`. Checkpoints, summaries and evaluations fall on loop
boundaries (a loop ends at each of them). A non-finite loss, gradient or
variable ends training with `NonFiniteError` (`--on_nonfinite=stop`) or drops
that batch's update (`skip`), see `model/nonfinite.py`. `export(config)`
re-exports from the latest checkpoint.

The parts: `train_objects.py` (model, optimizer, checkpoint manager,
restore), `train_loop.py` (the steps of one host call), `train_summaries.py`
(TensorBoard scalars, held-out evaluation), `model_selection.py`
(validation), `export.py` (the SavedModel); this module runs the loop.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import tensorflow as tf

from model import checkpoints, preflight
from model import input_geometry, model_selection, nonfinite, train_inputs, train_runtime
from model.errors import ConfigError
from model.export import export_trained
from model.steps import GUARD_KEYS, input_kind, make_replica_step
from model.strategies import make_strategy
from model.train_loop import make_loop_runner, make_train_loop
from model.train_objects import TrainObjects
from model.train_summaries import HeldOutEvaluation, TrainSummaries
from model.trainer_config import TrainConfig

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
  start_step: int
  final_step: int
  losses: list            # (step, loss) at every step run
  export_dir: str | None
  last_metrics: dict
  eval_metrics: dict = dataclasses.field(default_factory=dict)  # the last evaluation
  model: tf.keras.Model | None = None       # the trained objects (tests, notebooks)
  optimizer: tf.keras.optimizers.Optimizer | None = None
  validation: dict = dataclasses.field(default_factory=dict)  # best step, scores, raw


def train(config: TrainConfig, strategy: tf.distribute.Strategy | None = None) -> TrainResult:
  """Trains (or resumes) up to `config.trainer.train_steps`, then exports.

  Raises:
    ConfigError: bad configuration, found before the first step.
  """
  config.validate()
  preflight.check(config, input_kind(config.trainer.mode))
  if config.runtime.deterministic:
    # Process-wide and irreversible: seeds Python, NumPy and TensorFlow (so the
    # weight initialisers), and makes every op pick a deterministic kernel.
    tf.keras.utils.set_random_seed(config.runtime.seed)
    tf.config.experimental.enable_op_determinism()
  if strategy is None:
    strategy = make_strategy(config.runtime.strategy, config.runtime.tpu)
  is_ps = isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy)
  replicas = strategy.num_replicas_in_sync
  config.trainer.check_replicas(replicas)
  chief = train_runtime.is_chief(strategy)
  objs = TrainObjects(config, strategy, chief)
  start = objs.restore()
  if not objs.restored and not config.trainer.init_from:
    input_geometry.initialize(config, objs.model, strategy)
  tf.io.gfile.makedirs(config.runtime.model_dir)
  if chief:
    _write_atomically(os.path.join(config.runtime.model_dir, "train_config.json"),
                      config.to_json())
  summaries = TrainSummaries(config, chief)
  selection = (model_selection.ModelSelection(config, objs.model, chief, train_runtime.scalar)
               if config.data.validation_data else None)
  stopped_early = False
  if selection is not None and not selection.state["history"]:
    # The untrained model of a fresh run, or the restored one of a run that
    # had no validation yet, is the first candidate.
    stopped_early = selection.validate(start)
  step_fn = make_replica_step(config, objs.model, objs.optimizer, objs.table,
                              objs.cumulative_counts)
  run_steps, join = make_loop_runner(strategy, make_train_loop(strategy, step_fn),
                                     lambda: train_inputs.distributed_dataset(
                                         config, strategy, start_step=start),
                                     config.runtime.steps_per_loop)
  variables_finite = tf.function(lambda: nonfinite.variable_code(objs.trainable_variables()))
  evaluation = HeldOutEvaluation(config, strategy, objs, is_ps, chief) if config.data.eval_data \
      else None

  losses, metrics = [], {}
  step = start
  last_save = start
  skipped_total = 0
  poisoned = False  # a non-finite value met with --on_nonfinite=stop: keep nothing
  summaries.start_clock(step)
  with train_runtime.StopFlag() as flag:
    try:
      while step < config.trainer.train_steps and not flag.stop and not stopped_early:
        loop_metrics, loop_losses = run_steps(
            _next_boundary(config, step, selection is not None, is_ps) - step)
        new_step = int(objs.optimizer.iterations.numpy())
        first = new_step - len(loop_losses) + 1
        losses.extend((first + i, l) for i, l in enumerate(loop_losses))
        step = new_step
        if loop_metrics["stop"]:
          poisoned = True
          raise nonfinite.error(step, int(loop_metrics["nonfinite"]), config.runtime.model_dir)
        if loop_metrics["skipped"]:
          skipped_total += int(loop_metrics["skipped"])
          log.warning("steps %d..%d: skipped %d batch(es) with a non-finite %s (%d so far)",
                      first, step, int(loop_metrics["skipped"]),
                      nonfinite.describe(int(loop_metrics["nonfinite"]) or 1), skipped_total)
        metrics = {k: v for k, v in loop_metrics.items() if k not in (*GUARD_KEYS, "steps")}
        if summaries.due(step):
          summaries.write(step, metrics, objs.optimizer.learning_rate, skipped_total)
        if step % config.runtime.checkpoint_every == 0:
          _check_variables(variables_finite, step, config)
          objs.manager.save(checkpoint_number=step)
          last_save = step
        if evaluation and evaluation.due(step):
          evaluation(step)
        if selection is not None and (step % config.validation_interval() == 0 or
                                      step == config.trainer.train_steps):
          stopped_early = selection.validate(step)
    finally:
      join()
      step = int(objs.optimizer.iterations.numpy())
      # Decided from state every worker shares (not from its own directory).
      if not poisoned and (step != last_save or not (objs.restored or last_save > start)):
        if int(variables_finite()):
          poisoned = True
          log.error("step %d: a variable is non-finite; no checkpoint saved", step)
        else:
          objs.manager.save(checkpoint_number=step)
      summaries.close()
      if evaluation is not None:
        evaluation.close()
      if not chief:
        objs.cleanup()
  export_dir = None
  validation = {}
  if selection is not None:
    if step >= config.trainer.train_steps or stopped_early:
      selection.restore_best()
    validation = {"best_step": selection.state["best_step"], "best": selection.state["best"],
                  "raw": selection.raw[selection.metric], "stopped_early": stopped_early,
                  "history": selection.state["history"]}
    selection.close()
  if step >= config.trainer.train_steps or stopped_early:
    _check_variables(variables_finite, step, config)
    export_dir = export_trained(objs.model, config.runtime.model_dir, chief)
  return TrainResult(start, step, losses, export_dir, metrics,
                     evaluation.metrics if evaluation else {}, objs.model, objs.optimizer,
                     validation)


def _next_boundary(config: TrainConfig, step: int, validating: bool, is_ps: bool) -> int:
  """The step the next loop runs up to: the next summary, checkpoint, evaluation,
  validation or the end; at most `steps_per_loop` steps away (PS: per scheduled loop)."""
  boundary = min(config.trainer.train_steps, _next_multiple(step, config.runtime.summary_every),
                 _next_multiple(step, config.runtime.checkpoint_every),
                 _next_multiple(step, config.eval_interval()),
                 _next_multiple(step, config.validation_interval()) if validating
                 else config.trainer.train_steps)
  return boundary if is_ps else min(boundary, step + config.runtime.steps_per_loop)


def _check_variables(variables_finite, step: int, config: TrainConfig) -> None:
  """NonFiniteError if a trainable variable (the class table included) is non-finite."""
  code = int(variables_finite())
  if code:
    raise nonfinite.error(step, code, config.runtime.model_dir)


def _write_atomically(path: str, text: str) -> None:
  """Writes `text` to a temporary sibling, then renames it over `path` (no half file)."""
  tmp = f"{path}.tmp-{os.getpid()}"
  with tf.io.gfile.GFile(tmp, "w") as f:
    f.write(text)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def _next_multiple(step: int, every: int) -> int:
  return (step // every + 1) * every


def export(config: TrainConfig) -> str:
  """Exports the SavedModel on demand (`--export_only`).

  The weights are the best validation step's when the run selected one, else
  the latest checkpoint's.
  """
  config.validate()
  preflight.check_model_dir(config)
  strategy = tf.distribute.get_strategy()
  objs = TrainObjects(config, strategy)
  if not checkpoints.candidates(objs.chief_dir):
    raise ConfigError(f"no checkpoint in {config.runtime.model_dir}/checkpoints to export")
  objs.restore()
  model_selection.restore_best_weights(config.runtime.model_dir, objs.model)
  return export_trained(objs.model, config.runtime.model_dir, True)
