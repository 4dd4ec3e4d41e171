"""The groups of `gcml train`'s config, one per concern (no TensorFlow import).

`TrainConfig` (model/trainer_config.py) is `data` (`DataConfig`), `model`
(`EmbeddingModelConfig`, model/config.py), `trainer` (`TrainerConfig`) and
`runtime` (`RuntimeConfig`). Their field names are unique across the groups:
each is one flag of `gcml train` and one key of the flat `train_config.json`
a run writes, in the order of `FLAT_KEYS`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from model.errors import ConfigError

MODES = ("triplet", "clc", "contrastive", "temporal_contrastive")
STRATEGIES = ("default", "mirrored", "multi_worker", "parameter_server", "tpu")
OPTIMIZERS = ("rmsprop", "sgd", "adam")
CLC_SAMPLERS = ("uniform", "log_uniform", "unigram")
ON_NONFINITE = ("stop", "skip")


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What a run reads: the examples, the held-out sets and the input's shaping.

  Attributes:
    train_data / eval_data: comma-separated globs of TFRecord shards.
    validation_data: a `gcml examples --kind=validation` folder: retrieval
      on the validation items selects the exported step (`model_selection`).
    level_schedule: triplets: a level curriculum, levels in phase order (e.g.
      (2, 1, 0): easy to hard); the run is cut into equal phases, each reading
      only triplets of its level (`gcml examples --all_levels` writes them).
    clip_len, frame_dropout, feature_dropout, noise_std, modality_dropout: temporal_contrastive
      (frame-level `train_data`, docs/frames.md): frames per clip, clip augmentations.
  """
  train_data: str = ""
  eval_data: str = ""
  validation_data: str = ""
  level_schedule: tuple = ()
  shuffle_buffer: int = 10000
  # temporal contrastive pre-training (docs/frames.md)
  clip_len: int = 8
  frame_dropout: float = 0.1
  feature_dropout: float = 0.1
  noise_std: float = 0.05
  modality_dropout: float = 0.1


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
  """How the network learns: the loss, the optimizer and schedule, held-out checks.

  Attributes:
    mode: `triplet` (contract 5), `clc` (contract 6), `contrastive` (contract 5,
      anchor/positive pairs).
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
    on_nonfinite: `stop` (default): a non-finite loss, gradient or variable
      ends training with a one-line error naming the step, and nothing after
      it is checkpointed or exported; `skip`: a step with a non-finite loss or
      gradient applies no update (the step is counted, `nonfinite_skipped`),
      a non-finite variable still stops.
    eval_every: evaluate on `eval_data` every this many steps (0: at every
      checkpoint) and at the end; eval_steps: batches per evaluation (the same
      batches each time: the eval input is read in order, not shuffled).
    validate_every: steps between validations (0: at every checkpoint); a
      fresh run also scores its untrained model.
    patience: stop after this many validations without improvement (0: never).
    selection_metric: `map@60` or `ndcg@60`.
    init_from: a pre-trained model_dir, checkpoint or SavedModel to start from (init_from.py).
  """
  mode: str = "triplet"
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
  on_nonfinite: str = "stop"
  eval_every: int = 0
  eval_steps: int = 20
  validate_every: int = 0
  patience: int = 0
  selection_metric: str = "map@60"
  init_from: str = ""

  def check_replicas(self, num_replicas: int) -> int:
    """The per-replica batch size.

    Args:
      num_replicas: the strategy's replicas in sync.

    Returns:
      `batch_size // num_replicas`.

    Raises:
      ConfigError: the global batch does not divide over the replicas.
    """
    if self.batch_size % num_replicas:
      raise ConfigError(f"--batch_size={self.batch_size} is not divisible by the "
                        f"{num_replicas} replicas")
    return self.batch_size // num_replicas


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
  """Where and how a run executes: output folder, devices, cadence, determinism.

  Attributes:
    model_dir: checkpoints, summaries (`train/`), SavedModel (`export/`).
    strategy: one of STRATEGIES; `tpu` names the TPU for `strategy=tpu`.
    checkpoint_every / summary_every: in steps.
    steps_per_loop: training steps per host call: a loop inside one
      `tf.function` (metrics reduced on the device, read once per loop), as
      Keras' `steps_per_execution`. Checkpoints, summaries and evaluations
      happen at loop boundaries (a loop ends early at each of them).
    seed: input shuffling and sampler seed (and, when deterministic, the
      weight initialisation).
    deterministic: the same data, seed and strategy give bit-identical weights
      and exports: every random seed is set from `seed`, the input interleaves
      its files in a fixed order and TensorFlow's op determinism is on. Costs
      input throughput. Not with `parameter_server` (asynchronous updates).
  """
  model_dir: str = ""
  strategy: str = "default"
  tpu: str = ""
  checkpoint_every: int = 1000
  summary_every: int = 100
  steps_per_loop: int = 1
  max_checkpoints: int = 3
  seed: int = 0
  deterministic: bool = False


GROUPS = {"data": DataConfig, "trainer": TrainerConfig, "runtime": RuntimeConfig}

# The keys of `train_config.json` before `model`, in the order every gcml version wrote
# them (the flat config of old), and the order of `gcml train`'s flags.
FLAT_KEYS = (
    "mode", "train_data", "eval_data", "model_dir", "strategy", "tpu", "batch_size",
    "train_steps", "optimizer", "learning_rate", "decay_rate", "decay_steps", "margin",
    "mining", "num_sampled", "num_classes", "sampler", "temperature", "cluster_masking",
    "checkpoint_every", "summary_every", "steps_per_loop", "on_nonfinite", "eval_every",
    "eval_steps", "validation_data", "validate_every", "patience", "selection_metric",
    "level_schedule", "max_checkpoints", "shuffle_buffer", "seed", "deterministic",
    "clip_len", "frame_dropout", "feature_dropout", "noise_std", "modality_dropout",
    "init_from")

# Field name -> the group that holds it.
GROUP_OF = {field.name: name for name, cls in GROUPS.items()
            for field in dataclasses.fields(cls)}


def check_keys(keys) -> None:
  """Raises ConfigError naming the keys that are no group's field.

  Args:
    keys: flat field names (flags, `train_config.json` keys).
  """
  unknown = sorted(set(keys) - set(GROUP_OF))
  if unknown:
    raise ConfigError(f"train config: unknown keys {unknown}")


def group_values(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
  """Flat field values (flags, `train_config.json`) sorted into their groups.

  Args:
    values: field name -> value; every name must be a field of a group.

  Returns:
    Group name -> {field name: value}, every group present (maybe empty).

  Raises:
    ConfigError: naming the keys that are no group's field.
  """
  check_keys(values)
  grouped = {name: {} for name in GROUPS}
  for key, value in values.items():
    grouped[GROUP_OF[key]][key] = value
  return grouped
