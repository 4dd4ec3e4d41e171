"""Starts the residual tower from the training features' geometry.

Before the first step of a fresh run (not on a resume: the checkpoint holds
the projection), the trainer reads the first `sample_size` training examples
in file order (unshuffled, so every worker of a multi-worker job reads the
same sample and sets the same projection) and sets the residual tower's
input projection to their principal directions (`towers.principal_directions`).
For triplets the sample is the anchors' features; for cluster labels the
examples' features.
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf

from model import input as input_lib
from model.steps import input_kind
from model.trainer_config import TrainConfig

log = logging.getLogger(__name__)
DEFAULT_SAMPLE_SIZE = 8192


def training_sample(config: TrainConfig, sample_size: int = DEFAULT_SAMPLE_SIZE) -> dict:
  """The features of the first `sample_size` training examples, in file order.

  Args:
    config: the run's config (`train_data`, `mode`, modalities).
    sample_size: how many examples to read at most.

  Returns:
    `{modality_name: [n, dim] float32}` with n <= sample_size.
  """
  batch = 512
  dataset = input_lib.make_dataset(input_lib.InputConfig(
      config.data.train_data, input_kind(config.trainer.mode), config.modalities, batch_size=batch,
      shuffle_buffer=0, repeat=False, deterministic=True))
  key = "features" if config.trainer.mode == "clc" else "anchor"
  parts = {name: [] for name, _ in config.modalities}
  for i, batch_values in enumerate(dataset):
    if i * batch >= sample_size:
      break
    for name in parts:
      parts[name].append(batch_values[key][name].numpy())
  if not any(parts.values()) or not parts[config.modalities[0][0]]:
    return {}
  return {name: np.concatenate(values)[:sample_size] for name, values in parts.items()}


def initialize(config: TrainConfig, model: tf.keras.Model, strategy: tf.distribute.Strategy,
               sample_size: int = DEFAULT_SAMPLE_SIZE) -> bool:
  """Sets a residual tower's input projection from the training data.

  Returns:
    Whether the projection was set (False for other towers, for
    `temporal_contrastive` or with fewer
    training examples than one batch of 512, when the initialiser's
    projection stays).
  """
  if config.model.tower != "residual" or config.trainer.mode == "temporal_contrastive":
    return False  # frame-level input: the initialiser's projection (docs/frames.md)
  sample = training_sample(config, sample_size)
  if not sample:
    log.warning("input geometry: fewer than 512 training examples; the residual tower "
                "keeps its initial projection")
    return False
  with strategy.scope():
    model.set_input_geometry(sample)
  log.info("input geometry: projection set from the principal directions of %d examples",
           len(next(iter(sample.values()))))
  return True
