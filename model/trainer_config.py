"""Typed configuration of `gcml train` (no TensorFlow import).

A `TrainConfig` is four groups, one per concern: `data`, `model` (the
network), `trainer` and `runtime` (model/trainer_config_groups.py).
`TrainConfig.from_flags(preset=..., **explicit)` starts from a preset (`paper`:
the papers' values per mode; `demo`: small and fast), then applies the flags
the user gave explicitly, so explicit flags always override the preset
(model/trainer_config_flags.py). `validate()` raises a one-line `ConfigError`
before any TensorFlow work. `to_dict()` / `from_dict()` are the flat layout of
the `train_config.json` a run writes, the same keys in the same order as the
flat config of earlier versions.
"""

from __future__ import annotations

import dataclasses
import glob
import json
from typing import Any

from model import class_table, trainer_config_flags, trainer_config_groups
from model.config import EmbeddingModelConfig
from model.errors import ConfigError
from model.trainer_config_groups import (CLC_SAMPLERS, MODES, ON_NONFINITE, OPTIMIZERS,
                                         STRATEGIES, DataConfig, RuntimeConfig, TrainerConfig)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """A training run: what it reads, the network, how it learns, where it runs.

  Attributes:
    data: what the run reads (`DataConfig`).
    model: the network.
    trainer: the loss, optimizer, schedule and held-out checks (`TrainerConfig`).
    runtime: model_dir, strategy, checkpoint cadence, seed (`RuntimeConfig`).
  """
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  model: EmbeddingModelConfig = dataclasses.field(default_factory=EmbeddingModelConfig.demo)
  trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
  runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

  @classmethod
  def from_flags(cls, preset: str | None = None, **explicit: Any) -> TrainConfig:
    """Preset values for the mode, then the explicit values on top.

    Args:
      preset: `paper`, `demo` or None (dataclass defaults).
      **explicit: flat field values given by the user (None values are ignored).
        `modalities` may be a "name:dim,name:dim" string or (name, dim) pairs.

    Returns:
      The config (not validated).
    """
    network, values = trainer_config_flags.preset_values(preset, explicit)
    return cls._from_flat(values, network)

  @classmethod
  def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
    """Inverse of `to_dict`: a config from a `train_config.json`'s flat dict.

    A key that an older gcml did not write keeps its default.

    Args:
      values: flat field name -> JSON value, `model` the network's dict.

    Returns:
      The config (not validated).

    Raises:
      ConfigError: a key that is no field.
    """
    values = dict(values)
    network = (EmbeddingModelConfig.from_dict(values.pop("model")) if "model" in values
               else EmbeddingModelConfig.demo())
    if isinstance(values.get("level_schedule"), list):
      values["level_schedule"] = tuple(values["level_schedule"])
    return cls._from_flat(values, network)

  @classmethod
  def _from_flat(cls, values: dict[str, Any], network: EmbeddingModelConfig) -> TrainConfig:
    grouped = trainer_config_groups.group_values(values)
    return cls(data=DataConfig(**grouped["data"]), model=network,
               trainer=TrainerConfig(**grouped["trainer"]),
               runtime=RuntimeConfig(**grouped["runtime"]))

  def to_dict(self) -> dict[str, Any]:
    """The flat dict of `train_config.json` (keys in `FLAT_KEYS` order, then `model`).

    Returns:
      field name -> value (tuples stay tuples), `model` the network's dict.
    """
    groups = {"data": dataclasses.asdict(self.data),
              "trainer": dataclasses.asdict(self.trainer),
              "runtime": dataclasses.asdict(self.runtime)}
    flat = {key: groups[trainer_config_groups.GROUP_OF[key]][key]
            for key in trainer_config_groups.FLAT_KEYS}
    flat["model"] = self.model.to_dict()
    return flat

  def to_json(self) -> str:
    """The text of `train_config.json`: `to_dict()` as JSON, one space of indent.

    Returns:
      The JSON text (no final newline, as every gcml version wrote it).
    """
    return json.dumps(self.to_dict(), indent=1, default=str)

  @property
  def modalities(self) -> tuple[tuple[str, int], ...]:
    """The network's modalities as (name, dim) pairs, as the input readers take them."""
    return tuple((m.name, m.dim) for m in self.model.modalities)

  def resolved_num_classes(self) -> int:
    """The CLC classes.

    Returns:
      `num_classes`, or the classes in `classes.tsv` next to the train data.
    """
    if self.trainer.num_classes:
      return self.trainer.num_classes
    path = class_table.classes_file(self.data.train_data)
    if path is None:
      raise ConfigError("--mode=clc needs --num_classes or a classes.tsv next to the "
                        f"train data ({self.data.train_data})")
    return class_table.read_num_classes(path)

  def class_sizes(self) -> list[int]:
    """The class sizes of `--sampler=unigram`.

    Returns:
      Per-label `size` from `classes.tsv` next to the train data.
    """
    path = class_table.classes_file(self.data.train_data)
    if path is None:
      raise ConfigError("--sampler=unigram needs a classes.tsv next to the train data "
                        f"({self.data.train_data})")
    return class_table.read_class_sizes(path, self.resolved_num_classes())

  def validate(self) -> TrainConfig:
    """Checks every field.

    Returns:
      The config itself, so that `TrainConfig.from_flags(...).validate()` chains.

    Raises:
      ConfigError: on the first bad value, naming its flag.
    """
    data, trainer, runtime = self.data, self.trainer, self.runtime
    if trainer.mode not in MODES:
      raise ConfigError(f"--mode must be one of {MODES}, got {trainer.mode!r}")
    if runtime.strategy not in STRATEGIES:
      raise ConfigError(f"--strategy must be one of {STRATEGIES}, got {runtime.strategy!r}")
    if runtime.strategy == "tpu" and not runtime.tpu:
      raise ConfigError("--strategy=tpu needs --tpu=NAME (or 'local')")
    if trainer.optimizer not in OPTIMIZERS:
      raise ConfigError(f"--optimizer must be one of {OPTIMIZERS}, got {trainer.optimizer!r}")
    if not data.train_data:
      raise ConfigError("--train_data is required")
    if runtime.deterministic and runtime.strategy == "parameter_server":
      raise ConfigError("--deterministic is not possible with --strategy=parameter_server: "
                        "its workers update the variables asynchronously")
    for flag, pattern in (("--train_data", data.train_data), ("--eval_data", data.eval_data)):
      if not pattern:
        continue
      for p in pattern.split(","):
        if "://" not in p and not glob.glob(p.strip()):
          raise ConfigError(f"{flag}: no file matches {p.strip()}")
    if not runtime.model_dir:
      raise ConfigError("--model_dir is required")
    for name, v in (("batch_size", trainer.batch_size), ("train_steps", trainer.train_steps),
                    ("decay_steps", trainer.decay_steps),
                    ("checkpoint_every", runtime.checkpoint_every),
                    ("summary_every", runtime.summary_every),
                    ("max_checkpoints", runtime.max_checkpoints),
                    ("eval_steps", trainer.eval_steps), ("steps_per_loop", runtime.steps_per_loop),
                    ("clip_len", data.clip_len)):
      if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ConfigError(f"--{name} must be a positive int, got {v!r}")
    if not isinstance(trainer.eval_every, int) or trainer.eval_every < 0:
      raise ConfigError(f"--eval_every must be an int >= 0, got {trainer.eval_every!r}")
    for name, v in (("validate_every", trainer.validate_every), ("patience", trainer.patience)):
      if not isinstance(v, int) or v < 0:
        raise ConfigError(f"--{name} must be an int >= 0, got {v!r}")
    if data.level_schedule and (trainer.mode != "triplet" or not all(
        isinstance(lv, int) and -1 <= lv <= 15 for lv in data.level_schedule)):
      raise ConfigError("--level_schedule takes levels (-1 for random) for --mode=triplet, "
                        f"got {data.level_schedule!r}")
    if trainer.selection_metric not in ("map@60", "ndcg@60"):
      raise ConfigError(f"--selection_metric must be map@60 or ndcg@60, got "
                        f"{trainer.selection_metric!r}")
    if not trainer.learning_rate > 0:
      raise ConfigError(f"--learning_rate must be positive, got {trainer.learning_rate}")
    if not 0 < trainer.decay_rate <= 1:
      raise ConfigError(f"--decay_rate must be in (0, 1], got {trainer.decay_rate}")
    if trainer.mining not in ("semihard", "none"):
      raise ConfigError(f"--mining must be semihard or none, got {trainer.mining!r}")
    if trainer.margin < 0:
      raise ConfigError(f"--margin must be >= 0, got {trainer.margin}")
    if trainer.temperature <= 0:
      raise ConfigError(f"--temperature must be positive, got {trainer.temperature}")
    if trainer.num_sampled is not None and trainer.num_sampled < 0:
      raise ConfigError(f"--num_sampled must be >= 0, got {trainer.num_sampled}")
    if trainer.cluster_masking and trainer.mode != "contrastive":
      raise ConfigError("--cluster_masking is for --mode=contrastive")
    if trainer.sampler not in CLC_SAMPLERS:
      raise ConfigError(f"--sampler must be one of {CLC_SAMPLERS}, got {trainer.sampler!r}")
    if trainer.on_nonfinite not in ON_NONFINITE:
      raise ConfigError(f"--on_nonfinite must be one of {ON_NONFINITE}, "
                        f"got {trainer.on_nonfinite!r}")
    for name, v, top in (("frame_dropout", data.frame_dropout, 1),
                         ("feature_dropout", data.feature_dropout, 1),
                         ("modality_dropout", data.modality_dropout, 1),
                         ("noise_std", data.noise_std, float("inf"))):
      if not 0 <= v < top:
        raise ConfigError(f"--{name} must be in [0, {top}), got {v}")
    if (trainer.init_from and "://" not in trainer.init_from
        and not glob.glob(trainer.init_from + "*")):
      raise ConfigError(f"--init_from: no directory or checkpoint {trainer.init_from}")
    if trainer.mode == "clc":
      n = self.resolved_num_classes()
      if n < 2:
        raise ConfigError(f"--num_classes must be >= 2, got {n}")
      if n > 2**31:
        raise ConfigError(f"--num_classes must be at most 2**31, got {n}")
      if trainer.sampler == "unigram":
        self.class_sizes()
    self.model.validate()
    return self

  def validation_interval(self) -> int:
    """Steps between validations (`validate_every`, else `checkpoint_every`)."""
    return self.trainer.validate_every or self.runtime.checkpoint_every

  def eval_interval(self) -> int:
    """Steps between evaluations (`eval_every`, else `checkpoint_every`)."""
    return self.trainer.eval_every or self.runtime.checkpoint_every
