"""The trainer's distributed input and its held-out evaluation.

`input_config` turns a `TrainConfig` into the `tf.data` input's config (the
training stream, or the unshuffled evaluation stream), `make_dataset` picks
the mode's input (`frame_dataset`: clip pairs of frame-level files for
`--mode=temporal_contrastive`), `distributed_dataset` gives every replica its share, and `HeldOutEvaluator` scores `eval_data`.
"""

from __future__ import annotations

import tensorflow as tf

from model import input as input_lib
from model import input_frames
from model.steps import input_kind, make_replica_eval_step
from model.trainer_config import TrainConfig


def input_config(config: TrainConfig, batch_size: int, for_eval: bool,
                  start_step: int = 0) -> input_lib.InputConfig:
  # Evaluation reads its files in order, unshuffled, from the start each time,
  # so every evaluation scores the same batches. Both repeat: under
  # multi-worker every worker must run the same number of steps.
  data = config.data
  return input_lib.InputConfig(data.eval_data if for_eval else data.train_data,
                               input_kind(config.trainer.mode), config.modalities,
                               batch_size=batch_size,
                               shuffle_buffer=0 if for_eval else data.shuffle_buffer,
                               repeat=True, seed=config.runtime.seed,
                               deterministic=config.runtime.deterministic,
                               level_schedule=() if for_eval else data.level_schedule,
                               schedule_steps=config.trainer.train_steps, start_step=start_step,
                               with_clusters=config.trainer.cluster_masking)


def frame_dataset(config: TrainConfig, batch_size: int, for_eval: bool,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
  """`--mode=temporal_contrastive`'s clip pairs (`input_frames.trainer_dataset`)."""
  data = config.data
  augment = dict(frame_dropout=data.frame_dropout, feature_dropout=data.feature_dropout,
                 noise_std=data.noise_std, modality_dropout=data.modality_dropout)
  return input_frames.trainer_dataset(
      data.eval_data if for_eval else data.train_data, config.modalities, data.clip_len,
      batch_size, config.runtime.seed, 0 if for_eval else data.shuffle_buffer, augment,
      input_context)


def make_dataset(config: TrainConfig, batch_size: int, for_eval: bool, start_step: int = 0,
                 input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
  """The mode's input at `batch_size` per replica (frames or contracts 5 / 6)."""
  if config.trainer.mode == "temporal_contrastive":
    return frame_dataset(config, batch_size, for_eval, input_context)
  return input_lib.make_dataset(input_config(config, batch_size, for_eval, start_step),
                                input_context)


def distributed_dataset(config: TrainConfig, strategy, for_eval: bool = False,
                        start_step: int = 0):
  def fn(ctx: tf.distribute.InputContext):
    per_replica = ctx.get_per_replica_batch_size(config.trainer.batch_size)
    return make_dataset(config, per_replica, for_eval, start_step, ctx)
  return strategy.distribute_datasets_from_function(fn)


class HeldOutEvaluator:
  """Runs `eval_steps` batches of `eval_data` through the eval step and
  averages the scalars. Under parameter servers the evaluation runs inline on
  the coordinator (its variables live on the ps), as TF's PS guide does."""

  def __init__(self, config: TrainConfig, strategy, objs, is_ps: bool):
    self.config = config
    step_fn = make_replica_eval_step(config, objs.model, objs.optimizer, objs.table,
                                     objs.cumulative_counts)
    if is_ps:
      self.dataset = make_dataset(config, config.trainer.batch_size, True)
      self.step = tf.function(step_fn)
    else:
      self.dataset = distributed_dataset(config, strategy, for_eval=True)
      self.step = tf.function(lambda batch: strategy.run(step_fn, args=(batch,)))
    self.strategy = None if is_ps else strategy

  def __call__(self) -> dict:
    it = iter(self.dataset)  # from the start: the same batches every time
    totals: dict[str, float] = {}
    for _ in range(self.config.trainer.eval_steps):
      out = self.step(next(it))
      for k, v in out.items():
        if self.strategy is not None:
          v = self.strategy.experimental_local_results(v)[0]
        totals[k] = totals.get(k, 0.0) + float(v)
    return {k: v / self.config.trainer.eval_steps for k, v in totals.items()}
