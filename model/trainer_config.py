"""Typed configuration of `gcml train` (no TensorFlow import).

`TrainConfig.from_flags(preset=..., **explicit)` starts from a preset (`paper`:
the papers' values per mode; `demo`: small and fast), then applies the flags
the user gave explicitly, so explicit flags always override the preset.
`validate()` raises a one-line `ConfigError` before any TensorFlow work.
"""

from __future__ import annotations

import dataclasses
import glob
from typing import Any

from model import class_table, train_presets
from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from pipelines.io import modality_spec
from pipelines.errors import InputError

MODES = ("triplet", "clc", "contrastive", "temporal_contrastive")
STRATEGIES = ("default", "mirrored", "multi_worker", "parameter_server", "tpu")
OPTIMIZERS = ("rmsprop", "sgd", "adam")
CLC_SAMPLERS = ("uniform", "log_uniform", "unigram")
ON_NONFINITE = ("stop", "skip")



@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Attributes:
    mode: `triplet` (contract 5), `clc` (contract 6), `contrastive` (contract 5,
      anchor/positive pairs).
    train_data / eval_data: comma-separated globs of TFRecord shards.
    model_dir: checkpoints, summaries (`train/`), SavedModel (`export/`).
    strategy: one of STRATEGIES; `tpu` names the TPU for `strategy=tpu`.
    batch_size: GLOBAL batch size (divided over the replicas).
    train_steps: total optimizer steps (a resumed job continues up to it).
    optimizer, learning_rate, decay_rate, decay_steps: staircase exponential
      decay `lr * decay_rate ** (step // decay_steps)`.
    margin: triplet margin; mining: `semihard` or `none`.
    num_sampled: CLC sampled classes per step (`None`/0: full softmax).
    num_classes: CLC classes; read from `classes.tsv` next to the data when 0.
    sampler: CLC candidate sampler (`model/losses/samplers.py`): `uniform`
      (default: fits labels in hash order, as `gcml examples` writes them),
      `log_uniform` (for labels sorted by decreasing frequency) or `unigram`
      (Q proportional to the `size` column of `classes.tsv` next to the data).
    temperature: contrastive temperature.
    cluster_masking: contrastive: same-cluster in-batch negatives are masked
      (a candidate whose cluster id equals the anchor's is not a negative);
      the triplets must carry `anchor/cluster` and `positive/cluster`
      (`gcml examples --cluster_id_level=L`, docs/contrastive.md).
    checkpoint_every / summary_every: in steps.
    steps_per_loop: training steps per host call: a loop inside one
      `tf.function` (metrics reduced on the device, read once per loop), as
      Keras' `steps_per_execution`. Checkpoints, summaries and evaluations
      happen at loop boundaries (a loop ends early at each of them).
    on_nonfinite: `stop` (default): a non-finite loss, gradient or variable
      ends training with a one-line error naming the step, and nothing after
      it is checkpointed or exported; `skip`: a step with a non-finite loss or
      gradient applies no update (the step is counted, `nonfinite_skipped`),
      a non-finite variable still stops.
    eval_every: evaluate on `eval_data` every this many steps (0: at every
      checkpoint) and at the end; eval_steps: batches per evaluation (the same
      batches each time: the eval input is read in order, not shuffled).
    validation_data: a `gcml examples --kind=validation` folder: retrieval
      on the validation items selects the exported step (`model_selection`).
    validate_every: steps between validations (0: at every checkpoint); a
      fresh run also scores its untrained model.
    patience: stop after this many validations without improvement (0: never).
    selection_metric: `map@60` or `ndcg@60`.
    level_schedule: triplets: a level curriculum, levels in phase order (e.g.
      (2, 1, 0): easy to hard); the run is cut into equal phases, each reading
      only triplets of its level (`gcml examples --all_levels` writes them).
    model: the network.
    seed: input shuffling and sampler seed (and, when deterministic, the
      weight initialisation).
    deterministic: the same data, seed and strategy give bit-identical weights
      and exports: every random seed is set from `seed`, the input interleaves
      its files in a fixed order and TensorFlow's op determinism is on. Costs
      input throughput. Not with `parameter_server` (asynchronous updates).
    clip_len, frame_dropout, feature_dropout, noise_std, modality_dropout: temporal_contrastive
      (frame-level `train_data`, docs/frames.md): frames per clip, clip augmentations.
    init_from: a pre-trained model_dir, checkpoint or SavedModel to start from (init_from.py).
  """
  mode: str = "triplet"
  train_data: str = ""
  eval_data: str = ""
  model_dir: str = ""
  strategy: str = "default"
  tpu: str = ""
  batch_size: int = 64
  train_steps: int = 200
  optimizer: str = "adam"
  learning_rate: float = 1e-3
  decay_rate: float = 1.0
  decay_steps: int = 1000
  margin: float = 0.5
  mining: str = "semihard"
  num_sampled: int | None = 64
  num_classes: int = 0
  sampler: str = "uniform"
  temperature: float = 0.1
  cluster_masking: bool = False
  checkpoint_every: int = 1000
  summary_every: int = 100
  steps_per_loop: int = 1
  on_nonfinite: str = "stop"
  eval_every: int = 0
  eval_steps: int = 20
  validation_data: str = ""
  validate_every: int = 0
  patience: int = 0
  selection_metric: str = "map@60"
  level_schedule: tuple = ()
  max_checkpoints: int = 3
  shuffle_buffer: int = 10000
  seed: int = 0
  deterministic: bool = False
  # temporal contrastive pre-training (docs/frames.md) and --init_from
  clip_len: int = 8
  frame_dropout: float = 0.1
  feature_dropout: float = 0.1
  noise_std: float = 0.05
  modality_dropout: float = 0.1
  init_from: str = ""
  model: EmbeddingModelConfig = dataclasses.field(default_factory=EmbeddingModelConfig.demo)

  @classmethod
  def from_flags(cls, preset: str | None = None, **explicit: Any) -> TrainConfig:
    """Preset values for the mode, then the explicit values on top.

    Args:
      preset: `paper`, `demo` or None (dataclass defaults).
      **explicit: field values given by the user (None values are ignored).
        `modalities` may be a "name:dim,name:dim" string or (name, dim) pairs.
    """
    explicit = {k: v for k, v in explicit.items() if v is not None}
    if preset in train_presets.PRESETS:  # the preset's mode unless --mode is given
      explicit.setdefault("mode", train_presets.PRESETS[preset].default_mode)
    mode = explicit.get("mode", cls.mode)
    values: dict[str, Any] = {}
    if preset is not None:
      if preset not in train_presets.PRESETS:
        raise ConfigError(f"--preset must be one of {tuple(train_presets.PRESETS)}, "
                          f"got {preset!r}")
      if mode not in MODES:
        raise ConfigError(f"--mode must be one of {MODES}, got {mode!r}")
      values.update(train_presets.PRESETS[preset].modes[mode])
    model_cfg = (train_presets.PRESETS[preset].network_for(mode) if preset is not None
                 else EmbeddingModelConfig.demo())
    model_over = {}
    if "modalities" in explicit:
      model_over["modalities"] = parse_modalities(explicit.pop("modalities"))
    for key in ("hidden_units", "embedding_dim", "fusion", "tower", "input_norm", "dropout",
                "pull_to_init"):
      if key in explicit:
        model_over[key] = explicit.pop(key)
    if "hidden_units" in model_over and isinstance(model_over["hidden_units"], str):
      model_over["hidden_units"] = tuple(int(h) for h in model_over["hidden_units"].split(",") if h)
    if "model" in explicit:
      model_cfg = explicit.pop("model")
    model_cfg = dataclasses.replace(model_cfg, **model_over)
    fields = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(explicit) - fields)
    if unknown:
      raise ConfigError(f"train config: unknown keys {unknown}")
    if isinstance(explicit.get("level_schedule"), str):
      try:
        explicit["level_schedule"] = tuple(
            int(lv) for lv in explicit["level_schedule"].split(",") if lv.strip())
      except ValueError:
        raise ConfigError("--level_schedule takes comma-separated levels, e.g. 2,1,0; got "
                          f"{explicit['level_schedule']!r}") from None
    values.update(explicit)
    return cls(model=model_cfg, **values)

  @property
  def modalities(self) -> tuple[tuple[str, int], ...]:
    return tuple((m.name, m.dim) for m in self.model.modalities)

  def resolved_num_classes(self) -> int:
    """`num_classes`, or the classes in `classes.tsv` next to the train data."""
    if self.num_classes:
      return self.num_classes
    path = class_table.classes_file(self.train_data)
    if path is None:
      raise ConfigError("--mode=clc needs --num_classes or a classes.tsv next to the "
                        f"train data ({self.train_data})")
    return class_table.read_num_classes(path)

  def class_sizes(self) -> list[int]:
    """Per-label `size` from `classes.tsv` next to the train data (`--sampler=unigram`)."""
    path = class_table.classes_file(self.train_data)
    if path is None:
      raise ConfigError("--sampler=unigram needs a classes.tsv next to the train data "
                        f"({self.train_data})")
    return class_table.read_class_sizes(path, self.resolved_num_classes())

  def validate(self) -> TrainConfig:
    """Checks every field; returns self. Raises ConfigError naming the flag."""
    if self.mode not in MODES:
      raise ConfigError(f"--mode must be one of {MODES}, got {self.mode!r}")
    if self.strategy not in STRATEGIES:
      raise ConfigError(f"--strategy must be one of {STRATEGIES}, got {self.strategy!r}")
    if self.strategy == "tpu" and not self.tpu:
      raise ConfigError("--strategy=tpu needs --tpu=NAME (or 'local')")
    if self.optimizer not in OPTIMIZERS:
      raise ConfigError(f"--optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
    if not self.train_data:
      raise ConfigError("--train_data is required")
    if self.deterministic and self.strategy == "parameter_server":
      raise ConfigError("--deterministic is not possible with --strategy=parameter_server: "
                        "its workers update the variables asynchronously")
    for flag, pattern in (("--train_data", self.train_data), ("--eval_data", self.eval_data)):
      if not pattern:
        continue
      for p in pattern.split(","):
        if "://" not in p and not glob.glob(p.strip()):
          raise ConfigError(f"{flag}: no file matches {p.strip()}")
    if not self.model_dir:
      raise ConfigError("--model_dir is required")
    for name in ("batch_size", "train_steps", "decay_steps", "checkpoint_every",
                 "summary_every", "max_checkpoints", "eval_steps", "steps_per_loop", "clip_len"):
      v = getattr(self, name)
      if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ConfigError(f"--{name} must be a positive int, got {v!r}")
    if not isinstance(self.eval_every, int) or self.eval_every < 0:
      raise ConfigError(f"--eval_every must be an int >= 0, got {self.eval_every!r}")
    for name in ("validate_every", "patience"):
      if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
        raise ConfigError(f"--{name} must be an int >= 0, got {getattr(self, name)!r}")
    if self.level_schedule and (self.mode != "triplet" or not all(
        isinstance(lv, int) and -1 <= lv <= 15 for lv in self.level_schedule)):
      raise ConfigError("--level_schedule takes levels (-1 for random) for --mode=triplet, "
                        f"got {self.level_schedule!r}")
    if self.selection_metric not in ("map@60", "ndcg@60"):
      raise ConfigError(f"--selection_metric must be map@60 or ndcg@60, got "
                        f"{self.selection_metric!r}")
    if not self.learning_rate > 0:
      raise ConfigError(f"--learning_rate must be positive, got {self.learning_rate}")
    if not 0 < self.decay_rate <= 1:
      raise ConfigError(f"--decay_rate must be in (0, 1], got {self.decay_rate}")
    if self.mining not in ("semihard", "none"):
      raise ConfigError(f"--mining must be semihard or none, got {self.mining!r}")
    if self.margin < 0:
      raise ConfigError(f"--margin must be >= 0, got {self.margin}")
    if self.temperature <= 0:
      raise ConfigError(f"--temperature must be positive, got {self.temperature}")
    if self.num_sampled is not None and self.num_sampled < 0:
      raise ConfigError(f"--num_sampled must be >= 0, got {self.num_sampled}")
    if self.cluster_masking and self.mode != "contrastive":
      raise ConfigError("--cluster_masking is for --mode=contrastive")
    if self.sampler not in CLC_SAMPLERS:
      raise ConfigError(f"--sampler must be one of {CLC_SAMPLERS}, got {self.sampler!r}")
    if self.on_nonfinite not in ON_NONFINITE:
      raise ConfigError(f"--on_nonfinite must be one of {ON_NONFINITE}, got {self.on_nonfinite!r}")
    for name, top in (("frame_dropout", 1), ("feature_dropout", 1), ("modality_dropout", 1),
                      ("noise_std", float("inf"))):
      if not 0 <= getattr(self, name) < top:
        raise ConfigError(f"--{name} must be in [0, {top}), got {getattr(self, name)}")
    if self.init_from and "://" not in self.init_from and not glob.glob(self.init_from + "*"):
      raise ConfigError(f"--init_from: no directory or checkpoint {self.init_from}")
    if self.mode == "clc":
      n = self.resolved_num_classes()
      if n < 2:
        raise ConfigError(f"--num_classes must be >= 2, got {n}")
      if n > 2**31:
        raise ConfigError(f"--num_classes must be at most 2**31, got {n}")
      if self.sampler == "unigram":
        self.class_sizes()
    self.model.validate()
    return self

  def check_replicas(self, num_replicas: int) -> int:
    """Per-replica batch size; ConfigError if the global batch does not divide."""
    if self.batch_size % num_replicas:
      raise ConfigError(f"--batch_size={self.batch_size} is not divisible by the "
                        f"{num_replicas} replicas")
    return self.batch_size // num_replicas

  def validation_interval(self) -> int:
    """Steps between validations (`validate_every`, else `checkpoint_every`)."""
    return self.validate_every or self.checkpoint_every

  def eval_interval(self) -> int:
    """Steps between evaluations (`eval_every`, else `checkpoint_every`)."""
    return self.eval_every or self.checkpoint_every

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)


def parse_modalities(value: Any) -> tuple[ModalityConfig, ...]:
  """"mean_rgb:1024,mean_audio:128" (parsed as every stage's `--modalities`) or
  [(name, dim)] -> ModalityConfigs."""
  if isinstance(value, str):
    try:
      value = modality_spec.parse_modalities(value)
    except InputError as e:
      raise ConfigError(str(e)) from None
  return tuple(m if isinstance(m, ModalityConfig) else ModalityConfig(*m) for m in value)
