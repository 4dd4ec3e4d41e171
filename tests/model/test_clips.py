"""Clip sampling (CVRL's decreasing interval), clip-consistent augmentation, the loss."""

import numpy as np
import tensorflow as tf
from scipy import stats

from model import clips
from model.losses.temporal_contrastive import temporal_contrastive_loss

DRAWS = 20000


def _starts(num_frames, clip_len, seed=11):
  ds = tf.data.Dataset.range(DRAWS).map(
      lambda i: tf.stack(clips.sample_clip_starts(num_frames, clip_len, tf.stack([seed, i]))))
  return np.concatenate([b.numpy() for b in ds.batch(5000)])


class ClipSamplerTest(tf.test.TestCase):

  def test_analytic_distribution_by_hand(self):
    # T = 3: weights 4, 3, 2, 1 over S = 10.
    self.assertAllClose(clips.interval_probabilities(3), [0.4, 0.3, 0.2, 0.1])
    self.assertAllClose(clips.interval_probabilities(0), [1.0])

  def test_interval_follows_the_linear_distribution(self):
    starts = _starts(num_frames=14, clip_len=5)  # T = 9
    t = np.abs(starts[:, 0] - starts[:, 1])
    observed = np.bincount(t, minlength=10)
    self.assertEqual(len(observed), 10)
    expected = clips.interval_probabilities(9) * DRAWS
    chi2, p = stats.chisquare(observed, expected)
    self.assertGreater(p, 0.001, f"chi2={chi2} observed={observed}")
    # A uniform interval (what a naive sampler does) is refused by the same test.
    self.assertLess(stats.chisquare(observed, np.full(10, DRAWS / 10))[1], 1e-6)

  def test_starts_are_in_range_and_the_order_is_a_fair_coin(self):
    starts = _starts(num_frames=14, clip_len=5, seed=4)
    self.assertEqual(int(starts.min()), 0)
    self.assertEqual(int(starts.max()), 9)
    a_first = np.mean(starts[:, 0] < starts[:, 1])
    b_first = np.mean(starts[:, 0] > starts[:, 1])
    self.assertLess(abs(a_first - b_first), 0.03)
    # Given t = 9 the only start pair is (0, 9).
    far = starts[np.abs(starts[:, 0] - starts[:, 1]) == 9]
    self.assertAllEqual(np.sort(far, axis=1), np.tile([0, 9], (len(far), 1)))

  def test_short_video_gives_whole_clips(self):
    starts = _starts(num_frames=3, clip_len=5)[:50]
    self.assertAllEqual(starts, np.zeros_like(starts))
    clip, mask = clips.take_clip(tf.reshape(tf.range(6.0), [3, 2]), 0, 5)
    self.assertAllEqual(mask, [True, True, True, False, False])
    self.assertAllEqual(clip[3:], np.zeros((2, 2)))
    clip, mask = clips.take_clip(tf.reshape(tf.range(20.0), [10, 2]), 4, 3)
    self.assertAllEqual(clip, [[8, 9], [10, 11], [12, 13]])

  def test_same_seed_same_starts(self):
    a = clips.sample_clip_starts(40, 8, [1, 2])
    b = clips.sample_clip_starts(40, 8, [1, 2])
    self.assertAllEqual(a, b)


class AugmentTest(tf.test.TestCase):

  def _clip(self):
    return {"rgb": tf.ones([6, 8]), "audio": tf.ones([6, 3])}, tf.constant([True] * 5 + [False])

  def test_draws_are_the_same_for_every_frame(self):
    clip, mask = self._clip()
    out, out_mask = clips.augment_clip(clip, mask, [3, 4], feature_dropout=0.5, noise_std=0.3)
    self.assertAllEqual(out_mask, mask)
    rgb = out["rgb"].numpy()
    for f in range(1, 5):  # every valid frame got the same dropout and noise
      self.assertAllClose(rgb[f], rgb[0])
    self.assertAllEqual(rgb[5], np.zeros(8))  # the padded frame stays zero
    only_dropout = clips.augment_clip(clip, mask, [3, 4], feature_dropout=0.5)[0]["rgb"].numpy()
    self.assertAllEqual(np.unique(only_dropout[:5]), [0.0, 2.0])  # 1 / (1 - 0.5) = 2
    for f in range(1, 5):
      self.assertAllEqual(only_dropout[f], only_dropout[0])

  def test_modality_dropout_never_drops_everything(self):
    clip, mask = self._clip()
    out, _ = clips.augment_clip(clip, mask, [0, 1], modality_dropout=1.0)
    self.assertAllEqual(out["rgb"], clip["rgb"] * tf.cast(mask, tf.float32)[:, None])
    self.assertAllEqual(out["audio"], clip["audio"] * tf.cast(mask, tf.float32)[:, None])
    zeroed = 0
    for s in range(40):
      out, _ = clips.augment_clip(clip, mask, [s, 9], modality_dropout=0.5)
      n = [float(tf.reduce_sum(out[m])) == 0 for m in ("rgb", "audio")]
      self.assertFalse(all(n))
      zeroed += any(n)
    self.assertGreater(zeroed, 5)

  def test_frame_dropout_keeps_at_least_one_frame(self):
    clip, mask = self._clip()
    _, out_mask = clips.augment_clip(clip, mask, [5, 5], frame_dropout=1.0)
    self.assertAllEqual(out_mask, [True, False, False, False, False, False])
    _, out_mask = clips.augment_clip(clip, mask, [5, 6], frame_dropout=0.5)
    self.assertFalse(out_mask.numpy()[5])


def _nt_xent_reference(za, zb, t):
  """CVRL / SimCLR over the 2N clips, written out row by row."""
  z = np.concatenate([za, zb])
  n = len(za)
  losses = []
  for i in range(2 * n):
    pos = (i + n) % (2 * n)
    logits = np.array([z[i] @ z[k] / t for k in range(2 * n) if k != i])
    others = [k for k in range(2 * n) if k != i]
    losses.append(-(z[i] @ z[pos] / t) + np.log(np.exp(logits).sum()))
    assert pos in others
  return np.mean(losses)


class TemporalLossTest(tf.test.TestCase):

  def test_matches_the_numpy_reference(self):
    rng = np.random.default_rng(0)
    za = rng.normal(size=(5, 4))
    zb = za + 0.3 * rng.normal(size=(5, 4))
    za /= np.linalg.norm(za, axis=1, keepdims=True)
    zb /= np.linalg.norm(zb, axis=1, keepdims=True)
    for t in (0.1, 0.5):
      self.assertAllClose(temporal_contrastive_loss(za, zb, t, video_ids=np.arange(5)),
                          _nt_xent_reference(za, zb, t), rtol=1e-5)

  def test_two_by_hand(self):
    # Orthogonal a0 = b0 = e0 and a1 = b1 = e1, t = 1: each row has its positive
    # at logit 1 and two negatives at 0 and 0 (the self-similarity is excluded):
    # loss = log(e + 2) - 1.
    e = np.eye(2)
    self.assertAllClose(temporal_contrastive_loss(e, e, 1.0), np.log(np.e + 2) - 1)
    # Same cluster: the negatives are masked, only the positive is left -> 0.
    self.assertAllClose(temporal_contrastive_loss(e, e, 1.0, cluster_ids=[7, 7]), 0.0)
