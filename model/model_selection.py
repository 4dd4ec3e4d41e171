"""Model selection on the validation items: the best step, early stopping, the export.

With `--validation_data`, the trainer scores retrieval on the validation
items (`model/validation.py`) before the first step of a fresh run (the
untrained model, which for the residual tower is the raw features'
geometry; on a resumed run that had no validation yet, the restored model)
and every `--validate_every` steps after, keeps the weights of the
best step by `--selection_metric` (MAP@60 by default) in
`MODEL_DIR/best/`, stops after `--patience` validations without improvement
(0: never early), and exports the best weights, not the last ones. Every
worker scores the same items with the same weights, so every worker reaches
the same decision; only the chief writes the scalars (`MODEL_DIR/validation`)
and `MODEL_DIR/validation.json` (the best step and score, read back when a
run resumes).
"""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from model import validation

log = logging.getLogger(__name__)
STATE_FILE = "validation.json"


class ModelSelection:
  """Validation scores, the best checkpoint and the stopping rule of one run."""

  def __init__(self, config, model: tf.keras.Model, chief: bool, scalar_fn):
    """Reads the validation set and any earlier state of the run.

    Args:
      config: the `TrainConfig` (validation_data, validate_every, patience,
        selection_metric, model_dir).
      model: the model being trained.
      chief: whether this task writes the scalars and the state file.
      scalar_fn: `(name, value)` summary writer (the trainer's `_scalar`).
    """
    self.config = config
    self.model = model
    self.chief = chief
    self.metric = config.trainer.selection_metric
    self.validation = validation.load(config.data.validation_data, config.modalities)
    self._scalar = scalar_fn
    self._state_path = os.path.join(config.runtime.model_dir, STATE_FILE)
    self.state = {"best_step": -1, "best": None, "since_best": 0, "history": []}
    if tf.io.gfile.exists(self._state_path):
      with tf.io.gfile.GFile(self._state_path) as f:
        self.state.update(json.load(f))
    best_dir = os.path.join(config.runtime.model_dir, "best")
    if not chief:
      best_dir = os.path.join(config.runtime.model_dir, f"best_tmp_{os.getpid()}")
    self._best_dir = best_dir
    self._checkpoint = tf.train.Checkpoint(model=model)
    self._manager = tf.train.CheckpointManager(self._checkpoint, best_dir, max_to_keep=1)
    self._writer = (tf.summary.create_file_writer(
        os.path.join(config.runtime.model_dir, "validation")) if chief else None)
    self.raw = self.validation.raw_scores()
    log.info("validation: %d queries, %d database items; raw features %s %.4f",
             self.raw["num_queries"], self.raw["num_database"], self.metric, self.raw[self.metric])

  def validate(self, step: int) -> bool:
    """Scores the model at `step`; returns True when training should stop early."""
    scores = self.validation.score(self.model)
    value = scores[self.metric]
    best = self.state["best"]
    improved = best is None or value > best
    if improved:
      self.state.update(best=value, best_step=step, since_best=0)
      self._manager.save(checkpoint_number=step)
    else:
      self.state["since_best"] += 1
    self.state["history"].append([step, value])
    if self._writer is not None:
      with self._writer.as_default(step=step):
        for key in (f"map@{self.validation.k}", f"ndcg@{self.validation.k}"):
          self._scalar(key, scores[key])
          self._scalar(f"raw_features_{key}", self.raw[key])
      self._writer.flush()
    if self.chief:
      tmp = self._state_path + ".tmp"
      with tf.io.gfile.GFile(tmp, "w") as f:
        json.dump({**self.state, "raw": self.raw[self.metric], "metric": self.metric}, f)
      tf.io.gfile.rename(tmp, self._state_path, overwrite=True)
    log.info("validation step %d %s %.4f (raw features %.4f; best %.4f at step %d)%s", step,
             self.metric, value, self.raw[self.metric], self.state["best"],
             self.state["best_step"], "" if improved else
             f", {self.state['since_best']} without improvement")
    patience = self.config.trainer.patience
    return bool(patience) and self.state["since_best"] >= patience

  def restore_best(self) -> int:
    """Loads the best step's weights into the model; returns that step (-1: none)."""
    latest = self._manager.latest_checkpoint
    if latest is None:
      return -1
    self._checkpoint.restore(latest).expect_partial()
    log.info("validation: exporting the best step %d (%s %.4f)", self.state["best_step"],
             self.metric, self.state["best"])
    if self.state["best_step"] == 0:
      log.warning("validation: no trained step beat the untrained network (step 0, %s %.4f); "
                  "the export is the untrained model. Compare with the raw features "
                  "(%.4f) before using it", self.metric, self.state["best"],
                  self.raw[self.metric])
    return self.state["best_step"]

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()
    if not self.chief and tf.io.gfile.exists(self._best_dir):
      tf.io.gfile.rmtree(self._best_dir)


def restore_best_weights(model_dir: str, model) -> int:
  """Loads a finished run's selected weights (`MODEL_DIR/best/`) into `model`.

  Used by `gcml train --export_only`, so that a re-export gives the model the
  run exported (the best validation step), not the last checkpoint.

  Args:
    model_dir: the run's model directory.
    model: the model, already built and restored from the latest checkpoint.

  Returns:
    The best step, or -1 when the run did no model selection (no `best/`).
  """
  latest = tf.train.latest_checkpoint(os.path.join(model_dir, "best"))
  state_path = os.path.join(model_dir, STATE_FILE)
  if latest is None or not tf.io.gfile.exists(state_path):
    return -1
  tf.train.Checkpoint(model=model).restore(latest).expect_partial()
  with tf.io.gfile.GFile(state_path) as f:
    best_step = json.load(f).get("best_step", -1)
  log.info("export: the best validation step %d (model_dir/best), not the last checkpoint",
           best_step)
  return best_step
