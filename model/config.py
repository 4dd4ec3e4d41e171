"""Typed configuration of the embedding model (towers and fusion).

Nothing about the network is hard-coded in `model/towers.py`: the modalities,
layer sizes, fusion and activations all come from an `EmbeddingModelConfig`.
`validate()` reports a bad value as a one-line `ConfigError` before any
TensorFlow work starts. This module does not import TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from model.errors import ConfigError

FUSIONS = ("late", "early")
TOWERS = ("mlp", "residual", "identity_linear")
INPUT_NORMS = ("none", "l2")
# Names accepted by `tf.keras.activations.get` that make sense between layers.
ACTIVATIONS = ("relu", "relu6", "elu", "selu", "gelu", "swish", "silu", "tanh",
               "sigmoid", "softplus", "leaky_relu", "linear")


@dataclasses.dataclass(frozen=True)
class ModalityConfig:
  """One input feature of an item and its size.

  Attributes:
    name: Feature name, the key of the model's input dict (e.g. `mean_rgb`).
    dim: Size of the dense float feature vector.
  """
  name: str
  dim: int


@dataclasses.dataclass(frozen=True)
class EmbeddingModelConfig:
  """Architecture of the embedding network.

  Attributes:
    modalities: Input features, one tower each under late fusion.
    hidden_units: Sizes of the fully connected hidden layers (before the
      projection), applied per tower (late) or once on the concatenation (early).
    embedding_dim: Size of the projection, i.e. of the output embedding.
    fusion: `late`: one tower per modality, element-wise product of the tower
      outputs, then L2 normalisation (the papers' choice). `early`: concatenate
      the modalities, then the layers, then L2 normalisation.
    activation: Activation of the hidden layers.
    projection_activation: Activation of the projection layer; `None` means
      linear (the default: a ReLU there would confine the product of the towers
      to the positive orthant and can produce all-zero embeddings).
    dropout: Dropout rate after each hidden layer (training only); 0 disables.
    l2_normalize: Normalise the output to unit L2 norm (the contract of the
      SavedModel's `embedding` output; only disable for experiments).
    tower: `mlp`: the papers' towers (above). `residual`: a network that
      starts from the input's geometry: the per-modality L2-normalised inputs
      are concatenated (x, the raw-feature baseline's vector) and the
      embedding is normalize(x P + MLP(x)); P is a linear map that the
      trainer initialises from the training features (the top principal
      directions of x, so that at step 0 cosine in the embedding space is the
      raw features' cosine, compressed only as far as `embedding_dim`
      forces), and the MLP's last layer starts at zero, so training can only
      move away from the raw geometry as far as the loss asks. `fusion` does
      not apply to it. `identity_linear`: the same input x and one full-rank
      linear map x W, W [D, D] starting at the identity (no MLP, no bias), so
      the untrained model's output is the raw-feature baseline's vector
      (scaled to unit norm); the embedding size is the input size D
      (`output_dim`), and `embedding_dim`, `hidden_units` and `fusion` do not
      apply to it.
    input_norm: `l2` scales each modality's input to unit L2 norm before the
      network (the raw-feature baseline does the same); `none` feeds the
      values as they are. `residual` and `identity_linear` always normalise.
    pull_to_init: adds `pull_to_init * sum ||W - W0||^2` over the network's
      dense kernels to the training loss, W0 being their values at the start
      of the run (after the input geometry is set); 0 turns it off.
  """
  modalities: tuple[ModalityConfig, ...] = (
      ModalityConfig("mean_rgb", 1024), ModalityConfig("mean_audio", 128))
  hidden_units: tuple[int, ...] = (4000,)
  embedding_dim: int = 256
  fusion: str = "late"
  activation: str = "relu"
  projection_activation: str | None = None
  dropout: float = 0.0
  l2_normalize: bool = True
  tower: str = "mlp"
  input_norm: str = "none"
  pull_to_init: float = 0.0

  @classmethod
  def paper(cls, **overrides: Any) -> EmbeddingModelConfig:
    """The GCML/CDML network: towers of 4000 then 256 units, late fusion."""
    return dataclasses.replace(cls(), **overrides)

  @classmethod
  def demo(cls, **overrides: Any) -> EmbeddingModelConfig:
    """A small network for demos and tests: hidden 256, embedding 64."""
    return dataclasses.replace(cls(hidden_units=(256,), embedding_dim=64), **overrides)

  @property
  def output_dim(self) -> int:
    """The embedding's size: the input size for `identity_linear`, else `embedding_dim`."""
    if self.tower == "identity_linear":
      return sum(m.dim for m in self.modalities)
    return self.embedding_dim

  @property
  def modality_names(self) -> tuple[str, ...]:
    return tuple(m.name for m in self.modalities)

  def validate(self) -> EmbeddingModelConfig:
    """Checks every field.

    Returns:
      The config itself, so that `EmbeddingModelConfig(...).validate()` chains.

    Raises:
      ConfigError: on the first bad value, naming the field.
    """
    if not self.modalities:
      raise ConfigError("model config: at least one modality is required")
    names = []
    for m in self.modalities:
      if not isinstance(m, ModalityConfig):
        raise ConfigError(f"model config: modality {m!r} is not a ModalityConfig")
      if not isinstance(m.name, str) or not m.name:
        raise ConfigError(f"model config: modality name {m.name!r} must be a non-empty string")
      if not _positive_int(m.dim):
        raise ConfigError(f"model config: modality {m.name!r} dim must be a positive int, got {m.dim!r}")
      names.append(m.name)
    if len(set(names)) != len(names):
      raise ConfigError(f"model config: duplicate modality names in {names}")
    if not all(_positive_int(h) for h in self.hidden_units):
      raise ConfigError(f"model config: hidden_units must be positive ints, got {self.hidden_units!r}")
    if not _positive_int(self.embedding_dim):
      raise ConfigError(f"model config: embedding_dim must be a positive int, got {self.embedding_dim!r}")
    if self.fusion not in FUSIONS:
      raise ConfigError(f"model config: fusion must be one of {FUSIONS}, got {self.fusion!r}")
    if self.activation not in ACTIVATIONS:
      raise ConfigError(f"model config: activation must be one of {ACTIVATIONS}, got {self.activation!r}")
    if self.projection_activation is not None and self.projection_activation not in ACTIVATIONS:
      raise ConfigError("model config: projection_activation must be None or one of "
                        f"{ACTIVATIONS}, got {self.projection_activation!r}")
    if self.tower not in TOWERS:
      raise ConfigError(f"model config: tower must be one of {TOWERS}, got {self.tower!r}")
    if self.input_norm not in INPUT_NORMS:
      raise ConfigError(f"model config: input_norm must be one of {INPUT_NORMS}, "
                        f"got {self.input_norm!r}")
    if (not isinstance(self.pull_to_init, (int, float)) or isinstance(self.pull_to_init, bool)
        or not 0.0 <= self.pull_to_init < float("inf")):
      raise ConfigError(f"model config: pull_to_init must be a finite number >= 0, "
                        f"got {self.pull_to_init!r}")
    if not isinstance(self.dropout, (int, float)) or not 0.0 <= self.dropout < 1.0:
      raise ConfigError(f"model config: dropout must be in [0, 1), got {self.dropout!r}")
    return self

  def to_dict(self) -> dict[str, Any]:
    """A JSON-serialisable dict (for run summaries and checkpoints)."""
    return dataclasses.asdict(self)

  @classmethod
  def from_dict(cls, d: dict[str, Any]) -> EmbeddingModelConfig:
    """Inverse of `to_dict`; unknown keys are a `ConfigError`."""
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - fields)
    if unknown:
      raise ConfigError(f"model config: unknown keys {unknown}")
    d = dict(d)
    if "modalities" in d:
      d["modalities"] = tuple(
          m if isinstance(m, ModalityConfig) else ModalityConfig(**m) for m in d["modalities"])
    for key in ("hidden_units",):
      if key in d:
        d[key] = tuple(d[key])
    return cls(**d).validate()


def _positive_int(x: Any) -> bool:
  return isinstance(x, int) and not isinstance(x, bool) and x > 0
