"""A temporal tower: frame-level inputs pooled over time, then the video-level network.

Each modality's frames [batch, frames, dim] are pooled into one [batch, dim]
vector by masked attention pooling: a per-modality score s_f = w . x_f + b for
every frame, a softmax over the valid frames (the mask excludes padding and
dropped frames), and the weighted sum. The pooled vectors go through
`towers.EmbeddingModel`, so any video-level tower (`mlp` or `residual`, late or
early fusion) sits behind the pooling, and its weights can be shared with or
fine-tuned from a video-level model.

The scorers start at zero, so an untrained temporal tower pools by the masked
mean of the frames, which is what a video-level feature is (YouTube-8M's
`mean_rgb` is the mean of the `rgb` frames): the pre-trained tower starts
where the video-level model stands.
"""

from __future__ import annotations

import tensorflow as tf  # model/__init__.py has set TF_USE_LEGACY_KERAS

from model.config import EmbeddingModelConfig
from model.errors import ConfigError
from model.towers import EmbeddingModel, ModelConfigRoundTrip

MASK_KEY = "frame_mask"


def masked_attention_pool(frames, mask, scores):
  """Softmax-weighted sum of the valid frames.

  Args:
    frames: float [batch, frames, dim].
    mask: bool [batch, frames]; each row needs at least one True.
    scores: float [batch, frames] unnormalised frame scores.

  Returns:
    float [batch, dim].
  """
  scores = tf.where(mask, scores, tf.constant(-1e9, scores.dtype))
  weights = tf.nn.softmax(scores, axis=-1) * tf.cast(mask, scores.dtype)
  weights = weights / tf.maximum(tf.reduce_sum(weights, axis=-1, keepdims=True), 1e-12)
  return tf.einsum("bf,bfd->bd", weights, frames)


class TemporalEmbeddingModel(ModelConfigRoundTrip, tf.keras.Model):
  """Attention pooling over frames per modality, then `EmbeddingModel`.

  Inputs: `{modality_name: [batch, frames, dim], "frame_mask": [batch, frames] bool}`.
  """

  def __init__(self, config: EmbeddingModelConfig, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.scorers = {m.name: tf.keras.layers.Dense(1, kernel_initializer="zeros",
                                                  name=f"{m.name}_frame_score")
                    for m in config.modalities}
    self.video_model = EmbeddingModel(config, name="video_model")

  def pool(self, inputs: dict) -> dict:
    """The pooled `{modality: [batch, dim]}` inputs of the video-level network.

    Args:
      inputs: frames per modality and the frame mask.

    Returns:
      One pooled vector per modality.
    """
    if MASK_KEY not in inputs:
      raise ConfigError(f"TemporalEmbeddingModel: missing input {MASK_KEY!r}; got "
                        f"{sorted(inputs)}")
    mask = tf.cast(inputs[MASK_KEY], tf.bool)
    pooled = {}
    for m in self.config.modalities:
      if m.name not in inputs:
        raise ConfigError(f"TemporalEmbeddingModel: missing input frames {m.name!r}; got "
                          f"{sorted(inputs)}")
      x = tf.cast(inputs[m.name], tf.float32)
      if x.shape.rank != 3 or x.shape[-1] != m.dim:
        raise ConfigError(f"TemporalEmbeddingModel: {m.name} must be [batch, frames, {m.dim}], "
                          f"got {x.shape}")
      scores = tf.squeeze(self.scorers[m.name](x), -1)
      pooled[m.name] = masked_attention_pool(x, mask, scores)
    return pooled

  def call(self, inputs: dict, training: bool | None = None) -> tf.Tensor:
    """Embeds frame-level inputs.

    Args:
      inputs: `{modality: [batch, frames, dim], "frame_mask": [batch, frames]}`.
      training: Keras training flag (dropout).

    Returns:
      [batch, embedding_dim] embeddings.
    """
    return self.video_model(self.pool(inputs), training=training)

  def input_signature(self, batch_size: int | None = None) -> dict:
    """The serving signature: frames per modality (any length) and the frame mask."""
    spec = {m.name: tf.TensorSpec([batch_size, None, m.dim], tf.float32, name=m.name)
            for m in self.config.modalities}
    spec[MASK_KEY] = tf.TensorSpec([batch_size, None], tf.bool, name=MASK_KEY)
    return spec
