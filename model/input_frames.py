"""tf.data over frame-level features: two augmented clips per video (CVRL).

Reads the SequenceExamples of `pipelines.io.frame_features` (quantised frames,
YouTube-8M's layout; float frames are read by the pipelines' readers but not
here), dequantises them with the same formula and float32 operations, and
cuts two clips per video with `clips.sample_clip_starts`, each augmented with
`clips.augment_clip`. Element i of the (shuffled, repeated) stream draws with
seed [seed, i], so the batches are the same on every run.

The trainer's side (`gcml train --mode=temporal_contrastive`): `trainer_dataset`
gives each input pipeline its files and adds hashed video ids;
`check_frame_records` is the preflight (one-line `ConfigError`s naming the
file); `frame_modalities` detects the modalities of a record.
"""

from __future__ import annotations

import tensorflow as tf

from model import clips
from model.errors import ConfigError
from model.input_files import first_record, list_files
from model.losses.triplet import hash_ids
from model.temporal_tower import MASK_KEY
from pipelines.io import modality_spec
from pipelines.io.frame_features import QUANT_MAX, QUANT_MIN


def dequantize(raw):
  """uint8 -> float32, `frame_features.dequantize` in TensorFlow."""
  span = QUANT_MAX - QUANT_MIN
  return (tf.cast(raw, tf.float32) * tf.constant(span / 255.0, tf.float32)
          + tf.constant(span / 512.0 + QUANT_MIN, tf.float32))


def parse_frames(serialized, modalities) -> dict:
  """One SequenceExample as `{"id": string, modality: [n, dim] float32}`.

  Args:
    serialized: a scalar string tensor.
    modalities: (name, dim) pairs of the frame-level features.

  Returns:
    The id and the dequantised frames per modality.
  """
  context, seq = tf.io.parse_single_sequence_example(
      serialized, context_features={"id": tf.io.FixedLenFeature([], tf.string)},
      sequence_features={name: tf.io.FixedLenSequenceFeature([], tf.string)
                         for name, _ in modalities})
  out = {"id": context["id"]}
  for name, dim in modalities:
    raw = tf.io.decode_raw(seq[name], tf.uint8)
    out[name] = tf.reshape(dequantize(raw), [-1, dim])
  return out


def clip_pair(example: dict, modalities, clip_len: int, seed, **augment) -> dict:
  """Two augmented clips of one video.

  Args:
    example: `parse_frames`'s output.
    modalities: (name, dim) pairs.
    clip_len: frames per clip.
    seed: [2] int seed.
    **augment: `clips.augment_clip`'s rates.

  Returns:
    `{"id": ..., "a": clip inputs, "b": clip inputs}`, each clip
    `{modality: [clip_len, dim], "frame_mask": [clip_len]}`.
  """
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
  n = tf.shape(example[modalities[0][0]])[0]
  starts = clips.sample_clip_starts(n, clip_len, seeds[0])
  out = {"id": example["id"]}
  for key, start, s in (("a", starts[0], seeds[1]), ("b", starts[1], seeds[2])):
    clip, mask = {}, None
    for name, _ in modalities:
      clip[name], mask = clips.take_clip(example[name], start, clip_len)
    clip, mask = clips.augment_clip(clip, mask, s, **augment)
    clip[MASK_KEY] = mask
    out[key] = clip
  return out


def clip_pairs_dataset(paths, modalities, clip_len: int, batch_size: int, seed: int = 0,
                       shuffle_buffer: int = 0, repeat: bool = False,
                       **augment) -> tf.data.Dataset:
  """Batches of clip pairs from frame-level TFRecord files (file order unless shuffled).

  Args:
    paths: TFRecord files of SequenceExamples.
    modalities: (name, dim) pairs.
    clip_len: frames per clip.
    batch_size: videos per batch (the last partial batch is dropped).
    seed: the run's seed.
    shuffle_buffer: videos in the (seeded) shuffle buffer; 0: file order.
    repeat: repeat forever (each pass draws new clips: the element index grows).
    **augment: `clips.augment_clip`'s rates.

  Returns:
    A dataset of `clip_pair` dicts, batched.
  """
  modalities = tuple((m[0], int(m[1])) for m in modalities)
  ds = tf.data.TFRecordDataset(list(paths))
  if shuffle_buffer:
    ds = ds.shuffle(shuffle_buffer, seed=seed)
  if repeat:
    ds = ds.repeat()
  ds = ds.enumerate()
  ds = ds.map(lambda i, r: clip_pair(parse_frames(r, modalities), modalities, clip_len,
                                     tf.stack([tf.constant(seed, tf.int64), i]), **augment),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(batch_size, drop_remainder=True)


def trainer_dataset(file_pattern: str, modalities, clip_len: int, batch_size: int, seed: int,
                    shuffle_buffer: int, augment: dict,
                    input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
  """The trainer's repeated clip-pair batches, `{"a", "b", "video_id"}` (no strings).

  Args:
    file_pattern: comma-separated globs of frame-level shards.
    modalities: (name, dim) pairs.
    clip_len: frames per clip.
    batch_size: per-replica videos per batch.
    seed: the run's seed.
    shuffle_buffer: 0 for the evaluation stream (file order).
    augment: `clips.augment_clip`'s rates.
    input_context: each input pipeline reads every `num_input_pipelines`-th file.

  Returns:
    A repeated, prefetched dataset; `video_id` is int64 (`hash_ids` of the id).
  """
  files = list_files(file_pattern, check_sets=False)  # checked by the preflight
  if input_context and input_context.num_input_pipelines > 1:
    if len(files) < input_context.num_input_pipelines:
      raise ConfigError(f"{len(files)} files cannot feed {input_context.num_input_pipelines} "
                        "input pipelines; write more shards")
    files = files[input_context.input_pipeline_id::input_context.num_input_pipelines]
  ds = clip_pairs_dataset(files, modalities, clip_len, batch_size, seed,
                          shuffle_buffer=shuffle_buffer, repeat=True, **augment)
  ds = ds.map(lambda b: {"a": b["a"], "b": b["b"], "video_id": hash_ids(b["id"])})
  return ds.prefetch(tf.data.AUTOTUNE)


def _first_sequence_example(path: str, flag: str, record: bytes) -> tf.train.SequenceExample:
  try:
    return tf.train.SequenceExample.FromString(record)
  except Exception:  # pylint: disable=broad-except  (protobuf's DecodeError)
    raise ConfigError(f"{flag}: {path}: the first record is not a tf.train.SequenceExample "
                      "(frame-level features, docs/frames.md)") from None


def frame_modalities(record: bytes) -> tuple | None:
  """The (name, dim) modalities of one frame-level record (quantised frames), or None."""
  try:
    lists = tf.train.SequenceExample.FromString(record).feature_lists.feature_list
  except Exception:  # pylint: disable=broad-except  (the preflight reports it)
    return None
  found = [(name, len(fl.feature[0].bytes_list.value[0])) for name, fl in lists.items()
           if fl.feature and fl.feature[0].WhichOneof("kind") == "bytes_list"
           and fl.feature[0].bytes_list.value]
  return tuple(modality_spec.canonical_order(found)) or None


def check_frame_records(file_pattern: str, modalities, flag: str = "--train_data") -> None:
  """Checks that the shards hold frame-level records the trainer can read.

  Reads the first record of every shard: at least one must hold a record, and
  the first must be a SequenceExample with an `id` and quantised frames of
  every modality, `dim` bytes each.

  Args:
    file_pattern: comma-separated globs.
    modalities: (name, dim) pairs of the model.
    flag: the flag named in the errors.

  Raises:
    ConfigError: one line naming the file and what is wrong.
  """
  first, first_path = None, None
  files = list_files(file_pattern, flag, note=True)
  for path in files:
    record = first_record(path, flag)
    if record is not None and first is None:
      first, first_path = record, path
  if first is None:
    raise ConfigError(f"{flag}: the {len(files)} shards matching {file_pattern} hold no records")
  example = _first_sequence_example(first_path, flag, first)
  if not example.context.feature["id"].bytes_list.value:
    raise ConfigError(f"{flag}: {first_path}: the first record has no context `id`: not "
                      "frame-level features; check --mode")
  want = ",".join(f"{n}:{d}" for n, d in modalities)
  for name, dim in modalities:
    frames = example.feature_lists.feature_list[name].feature
    if not frames or frames[0].WhichOneof("kind") != "bytes_list":
      what = "has no frames" if not frames else "has float frames (the trainer reads quantised)"
      raise ConfigError(f"{flag}: {first_path}: feature list {name} {what}; the model's "
                        f"modalities are {want}")
    size = len(frames[0].bytes_list.value[0]) if frames[0].bytes_list.value else 0
    if size != dim:
      raise ConfigError(f"{flag}: {first_path}: frames of {name} have {size} values; the "
                        f"model's modalities are {want} (set --modalities)")
