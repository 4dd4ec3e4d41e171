"""The embedding network: one tower per modality, fused, L2-normalised.

Late fusion (GCML/CDML): each modality goes through its own tower of fully
connected hidden layers and a projection to `embedding_dim`; the tower outputs
are multiplied element-wise and the product is L2-normalised. Early fusion:
the modalities are concatenated and go through one such tower.

The `residual` tower (`EmbeddingModelConfig.tower`) starts from the input's
geometry instead: normalize(x P + MLP(x)) over the concatenated, per-modality
normalised inputs x, with P set from the training features by
`set_input_geometry` (`principal_directions`) and the MLP's last layer at
zero, so the untrained model ranks items as the raw features do (exactly,
when `embedding_dim` is at least the input size). The `identity_linear`
tower is normalize(x W) with one full-rank W [D, D] that starts at the
identity: at step 0 it outputs the raw-feature baseline's vectors (scaled to
unit norm).

`pull_to_init` > 0 keeps a non-trainable copy W0 of every dense kernel
(`snapshot_init`, checkpointed with the model) and adds
`pull_to_init * sum ||W - W0||^2` to `model.losses`.

Only standard Keras layers are used, so the model can be exported as a
SavedModel by the trainer (with a `tf.function` serving signature).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf  # model/__init__.py has set TF_USE_LEGACY_KERAS

from model.config import EmbeddingModelConfig
from model.errors import ConfigError


def principal_directions(x: np.ndarray, k: int) -> np.ndarray:
  """The projection [D, k] that keeps as much of x's inner products as k dimensions can.

  The top k right singular vectors of the sample x (uncentred: cosine
  geometry is about directions from the origin). When k >= D the identity
  (padded with zero columns) keeps every inner product exactly.

  Args:
    x: [n, D] sample of model inputs (the concatenated normalised features).
    k: output size.

  Returns:
    [D, k] float32 with orthonormal non-zero columns.
  """
  x = np.asarray(x, np.float64)
  dim = x.shape[1]
  if k >= dim:
    return np.eye(dim, k, dtype=np.float32)
  _, _, vt = np.linalg.svd(x, full_matrices=False)
  basis = np.zeros((dim, k))
  basis[:, :min(k, vt.shape[0])] = vt[:k].T
  return basis.astype(np.float32)


def _tower(config: EmbeddingModelConfig, name: str,
           last_initializer: str = "glorot_uniform") -> list[tf.keras.layers.Layer]:
  layers: list[tf.keras.layers.Layer] = []
  for i, units in enumerate(config.hidden_units):
    layers.append(tf.keras.layers.Dense(
        units, activation=config.activation, name=f"{name}_hidden_{i}"))
    if config.dropout > 0:
      layers.append(tf.keras.layers.Dropout(config.dropout, name=f"{name}_dropout_{i}"))
  layers.append(tf.keras.layers.Dense(
      config.embedding_dim, activation=config.projection_activation,
      kernel_initializer=last_initializer, name=f"{name}_projection"))
  return layers


class ModelConfigRoundTrip:
  """`get_config` / `from_config` of a Keras model built from one `EmbeddingModelConfig`.

  For a model whose constructor is `(config: EmbeddingModelConfig, name=...)` and
  which keeps the config as `self.config` (`EmbeddingModel`,
  `temporal_tower.TemporalEmbeddingModel`). Listed before `tf.keras.Model` in
  the bases, so these override Keras's.
  """

  def get_config(self) -> dict:
    """The model's constructor arguments (Keras saves them beside a SavedModel).

    Returns:
      `{"name": ..., "config": EmbeddingModelConfig.to_dict()}`, JSON-serialisable.
    """
    return {"name": self.name, "config": self.config.to_dict()}

  @classmethod
  def from_config(cls, config: dict, custom_objects=None):
    """Makes an untrained model from `get_config()`'s dict (the inverse).

    Args:
      config: what `get_config` returned (possibly through JSON).
      custom_objects: unused (Keras's signature).

    Returns:
      A new model of this class with the same architecture and name.
    """
    del custom_objects
    config = dict(config)
    return cls(EmbeddingModelConfig.from_dict(config.pop("config")), **config)


class EmbeddingModel(ModelConfigRoundTrip, tf.keras.Model):
  """Maps a dict of modality features to an L2-normalised embedding.

  Example:
    model = EmbeddingModel(EmbeddingModelConfig.demo())
    emb = model({"mean_rgb": rgb, "mean_audio": audio})  # [B, 64], unit norm

  Input keys not named in the config (ids, labels) are ignored.
  """

  def __init__(self, config: EmbeddingModelConfig, **kwargs):
    """Builds the layers.

    Args:
      config: Architecture; validated here (`ConfigError` if bad).
      **kwargs: Passed to `tf.keras.Model` (e.g. `name`).
    """
    kwargs.setdefault("name", "embedding_model")
    super().__init__(**kwargs)
    self.config = config.validate()
    self.init_kernels: list[tf.Variable] = []
    if config.tower == "identity_linear":
      self.input_projection = tf.keras.layers.Dense(
          config.output_dim, use_bias=False, kernel_initializer=tf.keras.initializers.Identity(),
          name="input_projection")
      self.towers = []
    elif config.tower == "residual":
      input_dim = sum(m.dim for m in config.modalities)
      self.input_projection = tf.keras.layers.Dense(
          config.embedding_dim, use_bias=False, kernel_initializer=tf.keras.initializers.Identity()
          if config.embedding_dim >= input_dim else "orthogonal", name="input_projection")
      self.towers = [_tower(config, "residual_tower", last_initializer="zeros")]
    elif config.fusion == "late":
      # A list (tracked by Keras) in modality order; names are the modalities'.
      self.towers = [_tower(config, f"{m.name}_tower") for m in config.modalities]
    else:
      self.towers = [_tower(config, "early_tower")]

  def _check(self, inputs: dict[str, tf.Tensor]) -> list[tf.Tensor]:
    if not isinstance(inputs, dict):
      raise ConfigError("EmbeddingModel expects a dict {modality_name: [batch, dim] tensor}")
    missing = [n for n in self.config.modality_names if n not in inputs]
    if missing:
      raise ConfigError(f"EmbeddingModel: missing input features {missing}; got {sorted(inputs)}")
    features = []
    for m in self.config.modalities:
      x = tf.convert_to_tensor(inputs[m.name])
      if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
      if x.shape.rank is not None and x.shape.rank != 2:
        raise ConfigError(f"EmbeddingModel: feature {m.name!r} must be [batch, {m.dim}], got {x.shape}")
      if x.shape.rank == 2 and x.shape[-1] is not None and x.shape[-1] != m.dim:
        raise ConfigError(f"EmbeddingModel: feature {m.name!r} has size {x.shape[-1]}, config says {m.dim}")
      features.append(x)
    return features

  def call(self, inputs: dict[str, tf.Tensor], training: bool | None = None) -> tf.Tensor:
    """Embeds a batch.

    Args:
      inputs: `{modality_name: [batch, dim] float tensor}` for every modality
        of the config.
      training: Keras training flag (only dropout depends on it).

    Returns:
      `[batch, embedding_dim]` embeddings, unit L2 norm when
      `config.l2_normalize` (the default).
    """
    features = self._check(inputs)
    if self.config.tower != "mlp" or self.config.input_norm == "l2":
      features = [tf.math.l2_normalize(x, axis=-1, epsilon=1e-12) for x in features]
    if self.config.tower == "identity_linear":
      out = self.input_projection(self.model_input(features))
      return tf.math.l2_normalize(out, axis=-1, epsilon=1e-12) if self.config.l2_normalize else out
    if self.config.tower == "residual":
      x = self.model_input(features)
      residual = x
      for layer in self.towers[0]:
        residual = layer(residual, training=training)
      out = self.input_projection(x) + residual
      return tf.math.l2_normalize(out, axis=-1, epsilon=1e-12) if self.config.l2_normalize else out
    if self.config.fusion == "early":
      features = [tf.concat(features, axis=-1) if len(features) > 1 else features[0]]
    fused = None
    for x, tower in zip(features, self.towers):
      for layer in tower:
        x = layer(x, training=training)
      fused = x if fused is None else fused * x
    if self.config.l2_normalize:
      fused = tf.math.l2_normalize(fused, axis=-1, epsilon=1e-12)
    return fused

  def kernels(self) -> list[tf.Variable]:
    """The dense kernels of the network, in layer order (what `pull_to_init` pulls)."""
    layers = [self.input_projection] if self.config.tower != "mlp" else []
    layers += [layer for tower in self.towers for layer in tower]
    return [layer.kernel for layer in layers if isinstance(layer, tf.keras.layers.Dense)]

  def snapshot_init(self) -> None:
    """Records the kernels' current values as W0 of `pull_to_init` (no-op when it is 0).

    The first call (after the model is built, under the strategy's scope)
    creates the non-trainable copies and adds the penalty to `self.losses`;
    later calls (after the input geometry is set) overwrite them. Restoring a
    checkpoint restores them too.
    """
    if not self.config.pull_to_init:
      return
    if self.init_kernels:
      for anchor, kernel in zip(self.init_kernels, self.kernels()):
        anchor.assign(kernel)
      return
    self.init_kernels = [tf.Variable(k.read_value(), trainable=False,
                                     name=k.name.split(":")[0].replace("/", "_") + "_init")
                         for k in self.kernels()]
    self.add_loss(self.pull_to_init_loss)

  def pull_to_init_loss(self) -> tf.Tensor:
    """`pull_to_init * sum over kernels of ||W - W0||^2` (0 before `snapshot_init`)."""
    total = tf.constant(0.0)
    for anchor, kernel in zip(self.init_kernels, self.kernels()):
      total += tf.reduce_sum(tf.square(kernel - anchor))
    return self.config.pull_to_init * total

  def model_input(self, features: list[tf.Tensor]) -> tf.Tensor:
    """The residual and identity towers' input: the normalised modalities, concatenated.

    Scaled to unit norm (each modality has norm 1, so the concatenation sqrt(M)).
    """
    x = tf.concat(features, axis=-1) if len(features) > 1 else features[0]
    return x / tf.sqrt(float(len(features)))

  def set_input_geometry(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Sets the residual tower's projection from a sample of training inputs.

    Args:
      inputs: `{modality_name: [n, dim]}` features of n training items.

    Returns:
      The [D, embedding_dim] projection now in the model.
    """
    if self.config.tower != "residual":
      raise ConfigError("set_input_geometry: only the residual tower has an input projection")
    features = [tf.math.l2_normalize(tf.cast(f, tf.float32), axis=-1, epsilon=1e-12)
                for f in self._check(inputs)]
    x = self.model_input(features).numpy()
    basis = principal_directions(x, self.config.embedding_dim)
    if not self.input_projection.built:
      self.input_projection.build((None, basis.shape[0]))
    self.input_projection.kernel.assign(basis)
    self.snapshot_init()
    return basis

  def input_signature(self, batch_size: int | None = None) -> dict[str, tf.TensorSpec]:
    """`TensorSpec`s of the input dict, for `tf.function` serving signatures."""
    return {m.name: tf.TensorSpec([batch_size, m.dim], tf.float32, name=m.name)
            for m in self.config.modalities}
