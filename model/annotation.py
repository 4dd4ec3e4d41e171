"""The papers' annotation model: a 4096-unit layer, then a mixture of 5 experts.

GCML paper, section 5.2: "a 4096-dimensional fully connected layer followed
by a multi-label classifier ... a Mixture of Experts (MoE) model with 5
mixtures ... ADAM, initial learning rate 0.005, batch size 512, half-period
cosine decay to 0 at 100,000 steps". The MoE is the YouTube-8M one: per
class, a softmax gate over `num_experts + 1` (the extra one is a dummy
expert that always says 0) and `num_experts` logistic experts; the class
probability is sum_e gate_e * sigmoid(expert_e). Loss: binary cross-entropy.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class AnnotationConfig:
  hidden_units: int = 4096
  num_experts: int = 5
  learning_rate: float = 0.005
  batch_size: int = 512
  train_steps: int = 100_000
  seed: int = 0


class MixtureOfExperts(tf.keras.layers.Layer):
  """YouTube-8M MoE classifier: probabilities [B, num_classes]."""

  def __init__(self, num_classes: int, num_experts: int = 5, **kwargs):
    super().__init__(**kwargs)
    self.num_classes = num_classes
    self.num_experts = num_experts
    self.gates = tf.keras.layers.Dense(num_classes * (num_experts + 1), name="gates")
    self.experts = tf.keras.layers.Dense(num_classes * num_experts, name="experts")

  def call(self, x):
    gates = tf.nn.softmax(tf.reshape(self.gates(x), [-1, self.num_classes,
                                                     self.num_experts + 1]))
    experts = tf.sigmoid(tf.reshape(self.experts(x), [-1, self.num_classes, self.num_experts]))
    return tf.reduce_sum(gates[:, :, :self.num_experts] * experts, axis=-1)


def build_model(input_dim: int, num_classes: int, config: AnnotationConfig) -> tf.keras.Model:
  inputs = tf.keras.Input(shape=(input_dim,), dtype=tf.float32)
  hidden = tf.keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(inputs)
  outputs = MixtureOfExperts(num_classes, config.num_experts, name="moe")(hidden)
  return tf.keras.Model(inputs, outputs, name="annotation")


def multi_hot(labels, num_classes: int) -> np.ndarray:
  out = np.zeros((len(labels), num_classes), np.float32)
  for r, row in enumerate(labels):
    out[r, list(row)] = 1.0
  return out


def train_and_predict(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      config: AnnotationConfig) -> np.ndarray:
  """Trains on (x_train, y_train multi-hot) and returns test probabilities."""
  tf.keras.utils.set_random_seed(config.seed)
  model = build_model(x_train.shape[1], y_train.shape[1], config)
  schedule = tf.keras.optimizers.schedules.CosineDecay(config.learning_rate,
                                                       max(1, config.train_steps))
  model.compile(optimizer=tf.keras.optimizers.Adam(schedule),
                loss=tf.keras.losses.BinaryCrossentropy())
  data = (tf.data.Dataset.from_tensor_slices((x_train.astype(np.float32), y_train))
          .shuffle(min(len(x_train), 100_000), seed=config.seed, reshuffle_each_iteration=True)
          .repeat().batch(config.batch_size))
  model.fit(data, steps_per_epoch=config.train_steps, epochs=1, verbose=0)
  return model.predict(x_test.astype(np.float32), batch_size=4096, verbose=0)
