"""`tf.data` input over the example contracts (5: triplets, 6: cluster labels).

`make_dataset` lists the shards, gives each input pipeline (worker) its own
files, interleaves them, shuffles, repeats, batches with `drop_remainder`
(static shapes for TPU), parses whole batches at once with
`tf.io.parse_example` and prefetches. Item ids are hashed to int64 (TPUs have
no strings) with `model.losses.hash_ids`, so the losses can compare ids.
"""

import dataclasses

import tensorflow as tf

from model.errors import ConfigError
from model.losses.triplet import hash_ids

TRIPLET_ROLES = ("anchor", "positive", "negative")


@dataclasses.dataclass(frozen=True)
class InputConfig:
  """Attributes:
    file_pattern: glob(s) of TFRecord shards, comma-separated.
    kind: `triplet` (contract 5) or `labels` (contract 6).
    modalities: (name, dim) pairs of the feature vectors.
    batch_size: per-replica batch size (the global batch over replicas).
    shuffle_buffer: examples in the shuffle buffer (0: no shuffle).
    cycle_length: files read in parallel.
    repeat: repeat forever (training) or read once (evaluation).
    seed: shuffling seed.
    deterministic: interleave the files in a fixed order even when shuffling
      (shuffled input is otherwise read in whatever order files deliver).
  """
  file_pattern: str
  kind: str = "triplet"
  modalities: tuple = (("mean_rgb", 1024), ("mean_audio", 128))
  batch_size: int = 64
  shuffle_buffer: int = 10000
  cycle_length: int = 8
  repeat: bool = True
  seed: int = 0
  deterministic: bool = False

  def validate(self):
    if self.kind not in ("triplet", "labels"):
      raise ConfigError(f"input kind must be triplet or labels, got {self.kind!r}")
    if self.batch_size <= 0:
      raise ConfigError(f"batch size must be positive, got {self.batch_size}")


def feature_spec(config: InputConfig) -> dict:
  """The `tf.io.parse_example` spec of one contract."""
  spec = {}
  prefixes = [f"{role}/" for role in TRIPLET_ROLES] if config.kind == "triplet" else [""]
  for prefix in prefixes:
    spec[f"{prefix}id"] = tf.io.FixedLenFeature([], tf.string)
    for name, dim in config.modalities:
      spec[f"{prefix}{name}"] = tf.io.FixedLenFeature([dim], tf.float32)
  if config.kind == "triplet":
    spec["level"] = tf.io.FixedLenFeature([], tf.int64)
  else:
    spec["label"] = tf.io.FixedLenFeature([], tf.int64)
  return spec


def _structure(parsed: dict, config: InputConfig) -> dict:
  names = [name for name, _ in config.modalities]
  if config.kind == "labels":
    return {"features": {n: parsed[n] for n in names}, "id": hash_ids(parsed["id"]),
            "label": parsed["label"]}
  out = {"level": parsed["level"]}
  for role in TRIPLET_ROLES:
    out[role] = {n: parsed[f"{role}/{n}"] for n in names}
    out[f"{role}_id"] = hash_ids(parsed[f"{role}/id"])
  return out


def list_files(file_pattern: str) -> list[str]:
  files = []
  for pattern in file_pattern.split(","):
    found = sorted(tf.io.gfile.glob(pattern.strip()))
    if not found:
      raise ConfigError(f"no file matches {pattern.strip()}")
    files.extend(found)
  return files


def make_dataset(config: InputConfig,
                 input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
  """Builds the batched, parsed dataset.

  Args:
    config: what to read and how to batch it.
    input_context: from `distribute_datasets_from_function`; each input
      pipeline reads every `num_input_pipelines`-th file.

  Returns:
    A dataset of dicts: for triplets `anchor`/`positive`/`negative` (each a
    dict modality -> [B, dim]), `anchor_id`/`positive_id`/`negative_id`
    (int64 [B]) and `level` ([B]); for labels `features`, `id`, `label`.

  Raises:
    ConfigError: if nothing matches or a worker would get no file.
  """
  config.validate()
  files = list_files(config.file_pattern)
  if input_context and input_context.num_input_pipelines > 1:
    if len(files) < input_context.num_input_pipelines:
      raise ConfigError(f"{len(files)} files cannot feed {input_context.num_input_pipelines} "
                        "input pipelines; write more shards")
    files = files[input_context.input_pipeline_id::input_context.num_input_pipelines]
  ds = tf.data.Dataset.from_tensor_slices(files)
  if config.shuffle_buffer:
    ds = ds.shuffle(len(files), seed=config.seed)
  ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(config.cycle_length, len(files)),
                     num_parallel_calls=tf.data.AUTOTUNE,
                     deterministic=config.deterministic or config.shuffle_buffer == 0)
  if config.shuffle_buffer:
    ds = ds.shuffle(config.shuffle_buffer, seed=config.seed)
  if config.repeat:
    ds = ds.repeat()
  spec = feature_spec(config)
  ds = ds.batch(config.batch_size, drop_remainder=True)
  ds = ds.map(lambda records: _structure(tf.io.parse_example(records, spec), config),
              num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)
