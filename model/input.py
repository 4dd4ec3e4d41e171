"""`tf.data` input over the example contracts (5: triplets, 6: cluster labels).

`make_dataset` lists the shards, gives each input pipeline (worker) its own
files, interleaves them, shuffles, repeats, batches with `drop_remainder`
(static shapes for TPU), parses whole batches at once with
`tf.io.parse_example` and prefetches. Item ids are hashed to int64 (TPUs have
no strings) with `model.losses.hash_ids`, so the losses can compare ids.
With `with_clusters`, triplets also carry the anchor's and the positive's
cluster ids (`anchor/cluster`, `positive/cluster`: the optional fields that
`gcml examples --cluster_id_level` writes, docs/contrastive.md), hashed the
same way, an empty id (no cluster) becoming `UNKNOWN_CLUSTER` (-1).
"""

import dataclasses

import tensorflow as tf

from model.errors import ConfigError
from model.input_curriculum import level_curriculum
from model.input_files import first_record, list_files
from model.losses.retrieval import UNKNOWN_CLUSTER
from model.losses.triplet import hash_ids

TRIPLET_ROLES = ("anchor", "positive", "negative")
CLUSTER_ROLES = ("anchor", "positive")  # the roles that carry `<role>/cluster`


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
    level_schedule: triplets only: a level curriculum, e.g. (2, 1, 0): the
      training steps are cut into len(level_schedule) equal phases, and phase
      p reads only triplets whose `level` is level_schedule[p] (easy to hard:
      the GCML paper's suggestion). Empty: every triplet, in file order.
    schedule_steps: the steps the phases divide (the run's train_steps).
    start_step: the step the input starts at (a resumed run continues in its
      phase).
    with_clusters: triplets only: also read `anchor/cluster` and
      `positive/cluster` (as `anchor_cluster`, `positive_cluster`, int64).
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
  level_schedule: tuple = ()
  schedule_steps: int = 0
  start_step: int = 0
  with_clusters: bool = False

  def validate(self):
    if self.kind not in ("triplet", "labels"):
      raise ConfigError(f"input kind must be triplet or labels, got {self.kind!r}")
    if self.batch_size <= 0:
      raise ConfigError(f"batch size must be positive, got {self.batch_size}")
    if self.level_schedule and (self.kind != "triplet" or self.schedule_steps <= 0):
      raise ConfigError("--level_schedule needs triplets and a positive --train_steps")
    if self.with_clusters and self.kind != "triplet":
      raise ConfigError("cluster ids are read from triplets (contract 5) only")


def cluster_ids(names: tf.Tensor) -> tf.Tensor:
  """Cluster id strings -> int64: `hash_ids`, the empty string -> UNKNOWN_CLUSTER."""
  return tf.where(tf.equal(names, ""), tf.constant(UNKNOWN_CLUSTER, tf.int64), hash_ids(names))


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
    if config.with_clusters:
      for role in CLUSTER_ROLES:
        spec[f"{role}/cluster"] = tf.io.FixedLenFeature([], tf.string)
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
  if config.with_clusters:
    for role in CLUSTER_ROLES:
      out[f"{role}_cluster"] = cluster_ids(parsed[f"{role}/cluster"])
  return out


def _describe_floats(features, prefix: str) -> str:
  found = [f"{k[len(prefix):]}:{len(v.float_list.value)}" for k, v in sorted(features.items())
           if k.startswith(prefix) and v.WhichOneof("kind") == "float_list"
           and "/" not in k[len(prefix):]]
  return ", ".join(found) or "none"


def check_records(config: InputConfig, flag: str = "--train_data",
                  num_classes: int = 0) -> None:
  """Checks, before training, that the shards hold examples the model can read.

  Reads the first record of every shard: each shard must be a TFRecord file,
  at least one must hold a record, and the first record must carry the
  contract's keys with the model's modalities and sizes (and, with
  `num_classes`, a label below it). Reads a few bytes per shard, not the data.

  Args:
    config: what the trainer will read.
    flag: the flag named in the errors.
    num_classes: the CLC class count (0: not checked).

  Raises:
    ConfigError: one line naming the file and what is wrong.
  """
  first, first_path = None, None
  files = list_files(config.file_pattern, flag, note=True)
  for path in files:
    record = first_record(path, flag)
    if record is not None and first is None:
      first, first_path = record, path
  if first is None:
    raise ConfigError(f"{flag}: the {len(files)} shards matching {config.file_pattern} hold "
                      "no examples (an empty example set)")
  try:
    features = tf.train.Example.FromString(first).features.feature
  except Exception:  # pylint: disable=broad-except  (protobuf's DecodeError)
    raise ConfigError(f"{flag}: {first_path}: the first record is not a "
                      "tf.train.Example") from None
  contract = "triplets (contract 5)" if config.kind == "triplet" else \
      "cluster-labelled examples (contract 6)"
  extra = "level" if config.kind == "triplet" else "label"
  if extra not in features:
    raise ConfigError(f"{flag}: {first_path}: records have no `{extra}`: not {contract}; "
                      "check --mode")
  if config.with_clusters and "anchor/cluster" not in features:
    raise ConfigError(f"{flag}: {first_path}: triplets carry no anchor/cluster for "
                      "--cluster_masking; write them with gcml examples --kind=smart "
                      "--cluster_id_level=L")
  prefixes = [f"{role}/" for role in TRIPLET_ROLES] if config.kind == "triplet" else [""]
  want = ", ".join(f"{n}:{d}" for n, d in config.modalities)
  for prefix in prefixes:
    for name, dim in config.modalities:
      value = features.get(f"{prefix}{name}")
      size = len(value.float_list.value) if value is not None else -1
      if size != dim:
        what = "is missing" if size < 0 else f"has {size} values"
        raise ConfigError(
            f"{flag}: {first_path}: feature {prefix}{name} {what}; the model's modalities are "
            f"{want}, the records carry {_describe_floats(features, prefix)} "
            "(set --modalities)")
  if config.kind == "labels" and num_classes:
    labels = list(features["label"].int64_list.value)
    if not labels or not 0 <= labels[0] < num_classes:
      raise ConfigError(f"{flag}: {first_path}: label {labels[:1]} is outside "
                        f"[0, {num_classes}) (--num_classes={num_classes})")


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
    (int64 [B]) and `level` ([B]), with `with_clusters` also `anchor_cluster`
    and `positive_cluster` (int64 [B]); for labels `features`, `id`, `label`.

  Raises:
    ConfigError: if nothing matches or a worker would get no file.
  """
  config.validate()
  files = list_files(config.file_pattern, check_sets=False)  # checked by the preflight
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
  if config.level_schedule:
    ds = level_curriculum(ds, config, files)
  spec = feature_spec(config)
  ds = ds.batch(config.batch_size, drop_remainder=True)
  ds = ds.map(lambda records: _structure(tf.io.parse_example(records, spec), config),
              num_parallel_calls=tf.data.AUTOTUNE)
  return ds.prefetch(tf.data.AUTOTUNE)
