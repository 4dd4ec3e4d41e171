"""tf.data over frame-level features: two augmented clips per video (CVRL).

Reads the SequenceExamples of `pipelines.io.frame_features` (quantised frames,
YouTube-8M's layout; float frames are read by the pipelines' readers but not
here), dequantises them with the same formula and float32 operations, and
cuts two clips per video with `clips.sample_clip_starts`, each augmented with
`clips.augment_clip`. Element i of the file order draws with seed
[seed, i], so the batches are the same on every run.
"""

from __future__ import annotations

import tensorflow as tf

from model import clips
from model.temporal_tower import MASK_KEY
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
                       **augment) -> tf.data.Dataset:
  """Batches of clip pairs from frame-level TFRecord files, in file order.

  Args:
    paths: TFRecord files of SequenceExamples.
    modalities: (name, dim) pairs.
    clip_len: frames per clip.
    batch_size: videos per batch (the last partial batch is dropped).
    seed: the run's seed.
    **augment: `clips.augment_clip`'s rates.

  Returns:
    A dataset of `clip_pair` dicts, batched.
  """
  modalities = tuple((m[0], int(m[1])) for m in modalities)
  ds = tf.data.TFRecordDataset(list(paths)).enumerate()
  ds = ds.map(lambda i, r: clip_pair(parse_frames(r, modalities), modalities, clip_len,
                                     tf.stack([tf.constant(seed, tf.int64), i]), **augment),
              num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return ds.batch(batch_size, drop_remainder=True)
