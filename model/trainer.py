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
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time

import tensorflow as tf

from model import checkpoints, preflight
from model import input_geometry, model_selection, nonfinite, train_inputs, train_runtime
from model.errors import ConfigError
from model.export import export_saved_model
from model.losses import ClassEmbeddingTable, unigram_cumulative
from model.steps import GUARD_KEYS, input_kind, make_optimizer, make_replica_step
from model.strategies import make_strategy
from model.towers import EmbeddingModel
from model.train_loop import make_loop_runner, make_train_loop
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


class _Objects:
  """Model, table, optimizer and checkpoint, created under the scope."""

  def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy,
               chief: bool = True):
    with strategy.scope():
      self.model = EmbeddingModel(config.model)
      self.model({n: tf.zeros([1, d]) for n, d in config.modalities})  # creates the variables
      self.table = None
      if config.mode == "clc":
        self.table = ClassEmbeddingTable(config.resolved_num_classes(),
                                         config.model.embedding_dim)
      # The unigram sampler's cumulative class sizes: a variable, so each
      # device holds one copy; derived from classes.tsv, not checkpointed.
      self.cumulative_counts = None
      if self.table is not None and config.sampler == "unigram":
        self.cumulative_counts = tf.Variable(unigram_cumulative(config.class_sizes()),
                                             trainable=False, name="unigram_cumulative")
      self.optimizer = make_optimizer(config)
      variables = self.model.trainable_variables + (
          self.table.trainable_variables if self.table else [])
      self.optimizer.build(variables)
      items = dict(model=self.model, optimizer=self.optimizer)
      if self.table is not None:
        items["class_table"] = self.table
      self.checkpoint = tf.train.Checkpoint(**items)
    # Every multi-worker worker must save (the save runs collectives); only the
    # chief writes model_dir/checkpoints, the others a private temporary
    # directory (deleted at the end) so no two processes write one checkpoint.
    self.chief_dir = os.path.join(config.model_dir, "checkpoints")
    self.tmp_dir = None if chief else os.path.join(
        config.model_dir, f"checkpoints_tmp_{train_runtime.task_id(strategy)}_{os.getpid()}")
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self.tmp_dir or self.chief_dir, max_to_keep=config.max_checkpoints)

  def cleanup(self) -> None:
    if self.tmp_dir and tf.io.gfile.exists(self.tmp_dir):
      tf.io.gfile.rmtree(self.tmp_dir)

  def restore(self) -> int:
    latest = checkpoints.restore_newest_valid(self.checkpoint, self.chief_dir)
    self.restored = bool(latest)
    if latest:
      log.info("restored %s", latest)
    return int(self.optimizer.iterations.numpy())


def train(config: TrainConfig, strategy: tf.distribute.Strategy | None = None) -> TrainResult:
  """Trains (or resumes) up to `config.train_steps`, then exports.

  Raises:
    ConfigError: bad configuration, found before the first step.
  """
  config.validate()
  preflight.check(config, input_kind(config.mode))
  if config.deterministic:
    # Process-wide and irreversible: seeds Python, NumPy and TensorFlow (so the
    # weight initialisers), and makes every op pick a deterministic kernel.
    tf.keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()
  if strategy is None:
    strategy = make_strategy(config.strategy, config.tpu)
  is_ps = isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy)
  replicas = strategy.num_replicas_in_sync
  config.check_replicas(replicas)
  chief = train_runtime.is_chief(strategy)
  objs = _Objects(config, strategy, chief)
  start = objs.restore()
  if not objs.restored:
    input_geometry.initialize(config, objs.model, strategy)
  tf.io.gfile.makedirs(config.model_dir)
  if chief:
    with tf.io.gfile.GFile(os.path.join(config.model_dir, "train_config.json"), "w") as f:
      json.dump(config.to_dict(), f, indent=1, default=str)
  summary_dir = os.path.join(config.model_dir, "train" if chief else f"train_tmp_{id(config)}")
  writer = tf.summary.create_file_writer(summary_dir)
  selection = (model_selection.ModelSelection(config, objs.model, chief, train_runtime.scalar)
               if config.validation_data else None)
  stopped_early = False
  if selection is not None and not selection.state["history"]:
    # The untrained model of a fresh run, or the restored one of a run that
    # had no validation yet, is the first candidate.
    stopped_early = selection.validate(start)
  step_fn = make_replica_step(config, objs.model, objs.optimizer, objs.table,
                              objs.cumulative_counts)
  schedule = objs.optimizer.learning_rate
  run_steps, join = make_loop_runner(strategy, make_train_loop(strategy, step_fn),
                                     lambda: train_inputs.distributed_dataset(
                                         config, strategy, start_step=start),
                                     config.steps_per_loop)
  per_loop = config.steps_per_loop

  variables_finite = tf.function(lambda: nonfinite.variable_code(
      objs.model.trainable_variables + (objs.table.trainable_variables if objs.table else [])))

  evaluator = train_inputs.HeldOutEvaluator(config, strategy, objs, is_ps) if config.eval_data else None
  eval_writer = tf.summary.create_file_writer(
      os.path.join(config.model_dir, "eval")) if evaluator and chief else None
  eval_metrics: dict = {}

  def evaluate(at_step: int) -> dict:
    result = evaluator()
    if eval_writer is not None:
      with eval_writer.as_default(step=at_step):
        for k, v in result.items():
          train_runtime.scalar(k, v)
      eval_writer.flush()
    log.info("eval step %d loss %.4f %s", at_step, result["loss"],
             " ".join(f"{k} {v:.4f}" for k, v in sorted(result.items()) if k != "loss"))
    return result

  losses, metrics = [], {}
  step = start
  last_save = start
  skipped_total = 0
  poisoned = False  # a non-finite value met with --on_nonfinite=stop: keep nothing
  t0, t0_step = time.time(), step
  with train_runtime.StopFlag() as flag:
    try:
      while step < config.train_steps and not flag.stop and not stopped_early:
        # Up to the next summary / checkpoint / evaluation / end, at most
        # steps_per_loop steps per host call (PS: per scheduled loop).
        boundary = min(config.train_steps, _next_multiple(step, config.summary_every),
                       _next_multiple(step, config.checkpoint_every),
                       _next_multiple(step, config.eval_interval()),
                       _next_multiple(step, config.validation_interval()) if selection
                       else config.train_steps)
        if not is_ps:
          boundary = min(boundary, step + per_loop)
        loop_metrics, loop_losses = run_steps(boundary - step)
        new_step = int(objs.optimizer.iterations.numpy())
        first = new_step - len(loop_losses) + 1
        losses.extend((first + i, l) for i, l in enumerate(loop_losses))
        step = new_step
        if loop_metrics["stop"]:
          poisoned = True
          raise nonfinite.error(step, int(loop_metrics["nonfinite"]), config.model_dir)
        if loop_metrics["skipped"]:
          skipped_total += int(loop_metrics["skipped"])
          log.warning("steps %d..%d: skipped %d batch(es) with a non-finite %s (%d so far)",
                      first, step, int(loop_metrics["skipped"]),
                      nonfinite.describe(int(loop_metrics["nonfinite"]) or 1), skipped_total)
        metrics = {k: v for k, v in loop_metrics.items() if k not in (*GUARD_KEYS, "steps")}
        if step % config.summary_every == 0 or step == config.train_steps:
          elapsed = max(time.time() - t0, 1e-9)
          eps = (step - t0_step) * config.batch_size / elapsed
          lr = schedule(step - 1) if callable(schedule) else schedule
          with writer.as_default(step=step):
            for k, v in metrics.items():
              train_runtime.scalar(k, v)
            train_runtime.scalar("learning_rate", lr)
            train_runtime.scalar("examples_per_second", eps)
            if config.on_nonfinite == "skip":
              train_runtime.scalar("nonfinite_skipped", skipped_total)
          writer.flush()
          log.info("step %d loss %.4f %.0f ex/s", step, metrics["loss"], eps)
          t0, t0_step = time.time(), step
        if step % config.checkpoint_every == 0:
          _check_variables(variables_finite, step, config)
          objs.manager.save(checkpoint_number=step)
          last_save = step
        if evaluator and (step % config.eval_interval() == 0 or step == config.train_steps):
          eval_metrics = evaluate(step)
        if selection is not None and (step % config.validation_interval() == 0 or
                                      step == config.train_steps):
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
      writer.close()
      if eval_writer is not None:
        eval_writer.close()
      if not chief:
        objs.cleanup()
        if tf.io.gfile.exists(summary_dir):
          tf.io.gfile.rmtree(summary_dir)
  export_dir = None
  validation = {}
  if selection is not None:
    if step >= config.train_steps or stopped_early:
      selection.restore_best()
    validation = {"best_step": selection.state["best_step"], "best": selection.state["best"],
                  "raw": selection.raw[selection.metric], "stopped_early": stopped_early,
                  "history": selection.state["history"]}
    selection.close()
  if step >= config.train_steps or stopped_early:
    _check_variables(variables_finite, step, config)
    export_dir = _export(config, objs, chief)
  return TrainResult(start, step, losses, export_dir, metrics, eval_metrics, objs.model,
                     objs.optimizer, validation)


def _check_variables(variables_finite, step: int, config: TrainConfig) -> None:
  """NonFiniteError if a trainable variable (the class table included) is non-finite."""
  code = int(variables_finite())
  if code:
    raise nonfinite.error(step, code, config.model_dir)


def _next_multiple(step: int, every: int) -> int:
  return (step // every + 1) * every


def _export(config: TrainConfig, objs: _Objects, chief: bool) -> str:
  path = os.path.join(config.model_dir, "export")
  if not chief:  # every worker must save (collectives); only the chief's is kept
    path = os.path.join(config.model_dir, f"export_tmp_{os.getpid()}")
  export_saved_model(objs.model, path)
  if not chief:
    tf.io.gfile.rmtree(path)
  return path


def export(config: TrainConfig) -> str:
  """Exports the SavedModel on demand (`--export_only`).

  The weights are the best validation step's when the run selected one, else
  the latest checkpoint's.
  """
  config.validate()
  preflight.check_model_dir(config)
  strategy = tf.distribute.get_strategy()
  objs = _Objects(config, strategy)
  if not checkpoints.candidates(objs.chief_dir):
    raise ConfigError(f"no checkpoint in {config.model_dir}/checkpoints to export")
  objs.restore()
  model_selection.restore_best_weights(config.model_dir, objs.model)
  return _export(config, objs, True)
