"""Temporal contrastive pre-training of a `TemporalEmbeddingModel` (CVRL on features).

A plain loop (one device, no tf.distribute, no checkpoints yet): batches of two
augmented clips per video from `input_frames.clip_pairs_dataset`, both clips
embedded by the same tower, `temporal_contrastive_loss` over the 2N clips,
Adam. The trained video-level network (`model.video_model`) has the same
variables as a video-level `EmbeddingModel`, which is what fine-tuning with
the graph will start from (not wired into `gcml train` yet; see docs/frames.md).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from model import input_frames
from model.config import EmbeddingModelConfig
from model.losses.temporal_contrastive import temporal_contrastive_loss
from model.temporal_tower import TemporalEmbeddingModel


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
  """What to pre-train.

  Attributes:
    clip_len: frames per clip.
    batch_size: videos per batch (2 x batch_size clips).
    steps: optimizer steps (the data repeats).
    learning_rate: Adam's learning rate.
    temperature: InfoNCE temperature.
    seed: the run's seed (clips, augmentations, initial weights).
    frame_dropout: `clips.augment_clip` rate.
    feature_dropout: `clips.augment_clip` rate.
    noise_std: `clips.augment_clip` std.
    modality_dropout: `clips.augment_clip` rate.
  """
  clip_len: int = 8
  batch_size: int = 32
  steps: int = 100
  learning_rate: float = 1e-3
  temperature: float = 0.1
  seed: int = 0
  frame_dropout: float = 0.1
  feature_dropout: float = 0.1
  noise_std: float = 0.05
  modality_dropout: float = 0.1


def _hash_ids(ids):
  return tf.strings.to_hash_bucket_fast(ids, 2 ** 62)


def pretrain(paths, modalities, model_config: EmbeddingModelConfig, config: PretrainConfig,
             log=None):
  """Pre-trains a temporal tower on frame-level files.

  Args:
    paths: frame-level TFRecord files.
    modalities: (name, dim) pairs; must match `model_config.modalities`.
    model_config: the video-level network behind the pooling.
    config: the pre-training run.
    log: optional callable(step, loss) called every step.

  Returns:
    (the trained TemporalEmbeddingModel, list of the per-step losses).
  """
  tf.keras.utils.set_random_seed(config.seed)
  model = TemporalEmbeddingModel(model_config)
  augment = dict(frame_dropout=config.frame_dropout, feature_dropout=config.feature_dropout,
                 noise_std=config.noise_std, modality_dropout=config.modality_dropout)
  data = input_frames.clip_pairs_dataset(paths, modalities, config.clip_len, config.batch_size,
                                         config.seed, **augment).repeat()
  optimizer = tf.keras.optimizers.Adam(config.learning_rate)

  @tf.function
  def step(batch):
    with tf.GradientTape() as tape:
      za = model(batch["a"], training=True)
      zb = model(batch["b"], training=True)
      loss = temporal_contrastive_loss(za, zb, config.temperature,
                                       video_ids=_hash_ids(batch["id"]))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  losses = []
  for i, batch in enumerate(data.take(config.steps)):
    losses.append(float(step(batch)))
    if log is not None:
      log(i, losses[-1])
  return model, losses
