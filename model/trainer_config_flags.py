"""A preset with the user's flag values on top: what `TrainConfig.from_flags` builds from.

The flags of `gcml train` are flat (`--batch_size`, `--hidden_units`, ...);
here the preset of `model/train_presets.py` gives the network and the mode's
values, then the flags given explicitly override them. No TensorFlow import.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from model import train_presets, trainer_config_groups
from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.trainer_config_groups import MODES, TrainerConfig
from pipelines.errors import InputError
from pipelines.io import modality_spec

# The network's fields that a flag may set (the rest keep the preset's network).
NETWORK_FLAGS = ("modalities", "hidden_units", "embedding_dim", "fusion", "tower", "input_norm",
                 "dropout", "pull_to_init")


def preset_values(preset: str | None,
                  explicit: dict[str, Any]) -> tuple[EmbeddingModelConfig, dict[str, Any]]:
  """The network and the flat field values of a preset, the explicit values on top.

  Args:
    preset: `paper`, `demo` or None (the dataclass defaults).
    explicit: flag name -> value as the user gave it (None values are ignored).
      `modalities` may be a "name:dim,name:dim" string or (name, dim) pairs,
      `hidden_units` and `level_schedule` comma-separated strings; `model`
      replaces the preset's network.

  Returns:
    (the network's config, the data/trainer/runtime field values by flat name).

  Raises:
    ConfigError: an unknown preset, mode or key, or a value that does not parse.
  """
  explicit = {k: v for k, v in explicit.items() if v is not None}
  if preset in train_presets.PRESETS:  # the preset's mode unless --mode is given
    explicit.setdefault("mode", train_presets.PRESETS[preset].default_mode)
  mode = explicit.get("mode", TrainerConfig.mode)
  values: dict[str, Any] = {}
  if preset is not None:
    if preset not in train_presets.PRESETS:
      raise ConfigError(f"--preset must be one of {tuple(train_presets.PRESETS)}, "
                        f"got {preset!r}")
    if mode not in MODES:
      raise ConfigError(f"--mode must be one of {MODES}, got {mode!r}")
    values.update(train_presets.PRESETS[preset].modes[mode])
  network = (train_presets.PRESETS[preset].network_for(mode) if preset is not None
             else EmbeddingModelConfig.demo())
  network_over = {}
  if "modalities" in explicit:
    network_over["modalities"] = parse_modalities(explicit.pop("modalities"))
  for key in NETWORK_FLAGS[1:]:
    if key in explicit:
      network_over[key] = explicit.pop(key)
  if "hidden_units" in network_over and isinstance(network_over["hidden_units"], str):
    network_over["hidden_units"] = tuple(
        int(h) for h in network_over["hidden_units"].split(",") if h)
  if "model" in explicit:
    network = explicit.pop("model")
  network = dataclasses.replace(network, **network_over)
  trainer_config_groups.check_keys(explicit)
  if isinstance(explicit.get("level_schedule"), str):
    try:
      explicit["level_schedule"] = tuple(
          int(lv) for lv in explicit["level_schedule"].split(",") if lv.strip())
    except ValueError:
      raise ConfigError("--level_schedule takes comma-separated levels, e.g. 2,1,0; got "
                        f"{explicit['level_schedule']!r}") from None
  values.update(explicit)
  return network, values


def parse_modalities(value: Any) -> tuple[ModalityConfig, ...]:
  """The network's modalities from a flag or from (name, dim) pairs.

  Args:
    value: "mean_rgb:1024,mean_audio:128" (parsed as every stage's
      `--modalities`), or (name, dim) pairs / ModalityConfigs.

  Returns:
    The ModalityConfigs.

  Raises:
    ConfigError: the text does not parse.
  """
  if isinstance(value, str):
    try:
      value = modality_spec.parse_modalities(value)
    except InputError as e:
      raise ConfigError(str(e)) from None
  return tuple(m if isinstance(m, ModalityConfig) else ModalityConfig(*m) for m in value)
