"""Trainer event files with known values, for the tests that read training summaries back."""

import os

import tensorflow as tf

from model import train_runtime
from pipelines.evaluation import training_summaries

STEPS = range(10, 210, 10)  # 20 summaries


def expected(tag: str, step: int) -> float:
  """The value `write_run` logs for `tag` at `step` (a simple function of the step)."""
  return {"loss": 1.0 / step, "learning_rate": 0.01 * (1 - step / 400),
          "examples_per_second": 1000.0 + step, "usage_ratio": 1.0 - step / 400,
          "no_semihard_fraction": 0.5 - step / 1000, "active_fraction": 0.9,
          "assigned_margin_mean": -0.2 + step / 1000, "assigned_margin_std": 0.3,
          "chosen_margin_mean": 0.05 + step / 2000, "chosen_margin_std": 0.1}[tag]


def write_run(model_dir: str, gcml: bool = True, steps=STEPS, restart_at: int | None = None):
  """Writes event files as `model.trainer.train` does (`train_runtime.scalar`, in `train/`).

  Args:
    model_dir: the run's model folder.
    gcml: also log gcml's margin tags and `active_fraction` (False: a baseline run's tags).
    steps: the steps to log at.
    restart_at: a step to restart after: a first file logs 20 steps past it with stale values,
      a second file the steps after it (the later values must win).

  Returns:
    `model_dir`.
  """
  tags = ["loss", "learning_rate", "examples_per_second"]
  if gcml:
    tags += [t for t in training_summaries.MARGIN_TAGS + ("active_fraction",)]
  chunks = [list(steps)] if restart_at is None else [
      [s for s in steps if s <= restart_at + 20], [s for s in steps if s > restart_at]]
  for chunk_no, chunk in enumerate(chunks):
    writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"),
                                           filename_suffix=f".{chunk_no}")
    for step in chunk:
      with writer.as_default(step=step):
        for tag in tags:
          # A restarted job logs some steps again: the later value must win.
          stale = chunk_no == 0 and restart_at is not None and step > restart_at
          train_runtime.scalar(tag, expected(tag, step) + (100.0 if stale else 0.0))  # pylint: disable=protected-access
    writer.close()
  return model_dir
