"""TensorBoard scalars of a training run and its held-out evaluations.

`TrainSummaries` writes `model_dir/train` every `summary_every` steps and at
the end: the loop's metrics, `learning_rate`, `examples_per_second` (since
the previous summary) and, with `--on_nonfinite=skip`, `nonfinite_skipped`.
`HeldOutEvaluation` scores `eval_data` every `eval_interval()` steps and at
the end, with its scalars in `model_dir/eval` (chief only).
"""

from __future__ import annotations

import logging
import os
import time

import tensorflow as tf

from model import train_inputs, train_runtime
from model.trainer_config import TrainConfig

log = logging.getLogger(__name__)


class TrainSummaries:
  """The `model_dir/train` scalars; a non-chief worker writes a temporary folder, deleted."""

  def __init__(self, config: TrainConfig, chief: bool):
    self._config, self._chief = config, chief
    self.dir = os.path.join(config.runtime.model_dir,
                            "train" if chief else f"train_tmp_{id(config)}")
    self._writer = tf.summary.create_file_writer(self.dir)
    self._t0, self._t0_step = time.time(), 0

  def start_clock(self, step: int) -> None:
    """Examples per second count from now and `step`."""
    self._t0, self._t0_step = time.time(), step

  def due(self, step: int) -> bool:
    return (step % self._config.runtime.summary_every == 0
            or step == self._config.trainer.train_steps)

  def write(self, step: int, metrics: dict, learning_rate, skipped_total: int) -> None:
    """Writes the scalars of `step` and logs its loss and throughput.

    Args:
      step: the step reached.
      metrics: the last loop's metrics (the loss among them).
      learning_rate: the optimizer's learning rate (a schedule or a value).
      skipped_total: steps skipped so far for a non-finite loss or gradient.
    """
    elapsed = max(time.time() - self._t0, 1e-9)
    eps = (step - self._t0_step) * self._config.trainer.batch_size / elapsed
    lr = learning_rate(step - 1) if callable(learning_rate) else learning_rate
    with self._writer.as_default(step=step):
      for k, v in metrics.items():
        train_runtime.scalar(k, v)
      train_runtime.scalar("learning_rate", lr)
      train_runtime.scalar("examples_per_second", eps)
      if self._config.trainer.on_nonfinite == "skip":
        train_runtime.scalar("nonfinite_skipped", skipped_total)
    self._writer.flush()
    log.info("step %d loss %.4f %.0f ex/s", step, metrics["loss"], eps)
    self.start_clock(step)

  def close(self) -> None:
    self._writer.close()
    if not self._chief and tf.io.gfile.exists(self.dir):
      tf.io.gfile.rmtree(self.dir)


class HeldOutEvaluation:
  """Evaluation on `eval_data` (the same batches each time); `metrics` is the last result."""

  def __init__(self, config: TrainConfig, strategy, objs, is_ps: bool, chief: bool):
    self._config = config
    self._evaluator = train_inputs.HeldOutEvaluator(config, strategy, objs, is_ps)
    self._writer = tf.summary.create_file_writer(
        os.path.join(config.runtime.model_dir, "eval")) if chief else None
    self.metrics: dict = {}

  def due(self, step: int) -> bool:
    return step % self._config.eval_interval() == 0 or step == self._config.trainer.train_steps

  def __call__(self, at_step: int) -> dict:
    """Evaluates, writes the scalars at `at_step` and returns them."""
    result = self._evaluator()
    if self._writer is not None:
      with self._writer.as_default(step=at_step):
        for k, v in result.items():
          train_runtime.scalar(k, v)
      self._writer.flush()
    log.info("eval step %d loss %.4f %s", at_step, result["loss"],
             " ".join(f"{k} {v:.4f}" for k, v in sorted(result.items()) if k != "loss"))
    self.metrics = result
    return result

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()
