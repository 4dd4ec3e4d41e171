"""Clips of frame-level features for temporal contrastive training (CVRL).

Two clips of `clip_len` frames are cut from one video of `n` frames. As in
CVRL (Qian et al., CVPR 2021), the interval t between the two start frames is
drawn first, from a linearly decreasing distribution, so nearby clips are
likelier than distant ones but distant ones still occur:

  T = max(n - clip_len, 0)          (the largest possible interval)
  P(t) = (T + 1 - t) / S,  t = 0..T,  S = (T + 1)(T + 2) / 2

(CVRL's P(t) ∝ -t + c with c = T + 1, discretised to whole frames). The
earlier clip then starts uniformly in [0, T - t], the later one t frames after
it, and which of the two is the "first" clip is a fair coin. A video shorter
than `clip_len` gives two clips of all its frames (padded, masked).

Augmentations are clip-consistent: each draw is made once per clip and applied
to every frame of it, as CVRL applies one spatial augmentation to all frames
of a clip. `feature_dropout` zeroes the same feature dimensions in every frame
(rescaling the rest by 1/(1-rate)); `noise_std` adds one Gaussian vector to
every frame; `modality_dropout` drops a whole modality for the clip (never
all of them). `frame_dropout` is the one per-frame draw: it masks frames out
of the clip, always keeping at least one.

Everything is stateless (`tf.random.stateless_*` with a [2] int seed), so a
seed gives the same clips on every run.
"""

import numpy as np
import tensorflow as tf


def interval_probabilities(max_interval: int) -> np.ndarray:
  """The analytic P(t), t = 0..max_interval, of `sample_interval`.

  Args:
    max_interval: T, the largest interval.

  Returns:
    float64 array of T + 1 probabilities summing to 1.
  """
  t = np.arange(max_interval + 1, dtype=np.float64)
  return (max_interval + 1 - t) / ((max_interval + 1) * (max_interval + 2) / 2)


def sample_interval(max_interval, seed) -> tf.Tensor:
  """Draws t in [0, T] with P(t) ∝ T + 1 - t, by inverting the CDF.

  The CDF F(t) = 1 - (T - t)(T + 1 - t) / ((T + 1)(T + 2)) is quadratic in t;
  t is the smallest integer with F(t) >= u for a uniform u.

  Args:
    max_interval: int32 scalar T >= 0.
    seed: [2] int seed.

  Returns:
    int32 scalar t.
  """
  big_t = tf.cast(max_interval, tf.float64)
  u = tf.random.stateless_uniform([], seed, dtype=tf.float64)
  # (T - t)(T + 1 - t) <= (1 - u)(T + 1)(T + 2); x = T - t solves x^2 + x - r = 0.
  r = (1.0 - u) * (big_t + 1.0) * (big_t + 2.0)
  x = tf.floor((-1.0 + tf.sqrt(1.0 + 4.0 * r)) / 2.0)
  t = tf.cast(tf.clip_by_value(big_t - x, 0.0, big_t), tf.int32)
  return t


def sample_clip_starts(num_frames, clip_len: int, seed):
  """The start frames of a video's two clips.

  Args:
    num_frames: int32 scalar n >= 1.
    clip_len: frames per clip.
    seed: [2] int seed.

  Returns:
    (start_a, start_b), int32 scalars; |start_a - start_b| is the interval.
  """
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
  max_interval = tf.maximum(tf.cast(num_frames, tf.int32) - clip_len, 0)
  t = sample_interval(max_interval, seeds[0])
  first = tf.random.stateless_uniform([], seeds[1], 0, max_interval - t + 1, dtype=tf.int32)
  swap = tf.random.stateless_uniform([], seeds[2]) < 0.5
  return tf.where(swap, first + t, first), tf.where(swap, first, first + t)


def take_clip(frames, start, clip_len: int):
  """Frames [start, start + clip_len) of a [n, d] tensor, zero-padded, with their mask.

  Args:
    frames: float [n, d] frames of one modality.
    start: int32 scalar start frame.
    clip_len: frames per clip.

  Returns:
    (clip [clip_len, d], mask [clip_len] bool).
  """
  clip = frames[start:start + clip_len]
  valid = tf.shape(clip)[0]
  clip = tf.pad(clip, [[0, clip_len - valid], [0, 0]])
  clip.set_shape([clip_len, frames.shape[-1]])
  return clip, tf.range(clip_len) < valid


def augment_clip(clip: dict, mask, seed, frame_dropout: float = 0.0, feature_dropout: float = 0.0,
                 noise_std: float = 0.0, modality_dropout: float = 0.0):
  """Clip-consistent augmentation of one clip.

  Args:
    clip: modality name -> float [clip_len, d] frames (sorted names are drawn in order).
    mask: bool [clip_len], the clip's valid frames.
    seed: [2] int seed.
    frame_dropout: chance that a frame is masked out (one draw per frame; at
      least one valid frame is kept).
    feature_dropout: chance that a feature dimension is zeroed in every frame.
    noise_std: std of the Gaussian vector added to every frame.
    modality_dropout: chance that a modality is zeroed for the whole clip.

  Returns:
    (augmented clip dict, mask).
  """
  names = sorted(clip)
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2 + 3 * len(names))
  if frame_dropout > 0:
    keep = tf.random.stateless_uniform(mask.shape, seeds[0]) >= frame_dropout
    kept = mask & keep
    first_valid = tf.one_hot(tf.argmax(tf.cast(mask, tf.int32)), tf.shape(mask)[0], on_value=True,
                             off_value=False)
    mask = tf.cond(tf.reduce_any(kept), lambda: kept, lambda: first_valid & mask)
  drop = tf.random.stateless_uniform([len(names)], seeds[1]) < modality_dropout
  drop = drop & ~tf.reduce_all(drop)  # never every modality
  out = {}
  for k, name in enumerate(names):
    x = clip[name]
    d = x.shape[-1]
    if feature_dropout > 0:
      keep = tf.random.stateless_uniform([d], seeds[2 + 3 * k]) >= feature_dropout
      x = x * tf.cast(keep, x.dtype)[None, :] / (1.0 - feature_dropout)
    if noise_std > 0:
      x = x + noise_std * tf.random.stateless_normal([d], seeds[3 + 3 * k], dtype=x.dtype)[None, :]
    x = tf.where(drop[k], tf.zeros_like(x), x)
    out[name] = x * tf.cast(mask, x.dtype)[:, None]
  return out, mask
