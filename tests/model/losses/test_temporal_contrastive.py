"""`model/losses/temporal_contrastive.py`: InfoNCE over two clips per video, by hand.
(Under MirroredStrategy: tests/model/mirrored_temporal_check.py, run by test_temporal_train.py.)"""

import math

import numpy as np
import tensorflow as tf

from model.losses.temporal_contrastive import (global_temporal_contrastive_loss,
                                               temporal_contrastive_loss)

# Two videos, orthogonal: each clip matches its video's other clip (dot 1) and no other (dot 0).
A = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
B = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
# Every row (4 = 2 directions x 2 videos) has its positive (logit 1) and 2 other clips (logit 0):
# -log(e / (e + 2)).
EVERY_ROW = math.log(math.e + 2) - 1


class TemporalContrastiveTest(tf.test.TestCase):

  def test_hand_case(self):
    self.assertAllClose(temporal_contrastive_loss(A, B, temperature=1.0), EVERY_ROW)

  def test_temperature_divides_the_logits(self):
    # t = 0.5: logits 2 and 0, 0.
    self.assertAllClose(temporal_contrastive_loss(A, B, temperature=0.5),
                        math.log(math.e ** 2 + 2) - 2)

  def test_clips_of_one_video_are_not_negatives(self):
    # Both rows are one video: the only candidate left is the positive.
    ids = tf.constant([7, 7], tf.int64)
    self.assertAllClose(temporal_contrastive_loss(A, B, 1.0, video_ids=ids), 0.0, atol=1e-6)
    other = tf.constant([1, 2], tf.int64)
    self.assertAllClose(temporal_contrastive_loss(A, B, 1.0, video_ids=other), EVERY_ROW)

  def test_same_cluster_negatives_are_masked_unknown_never_matches(self):
    ids = tf.constant([1, 2], tf.int64)
    same = tf.constant([3, 3], tf.int64)
    self.assertAllClose(temporal_contrastive_loss(A, B, 1.0, ids, cluster_ids=same), 0.0,
                        atol=1e-6)
    unknown = tf.constant([-1, -1], tf.int64)
    self.assertAllClose(temporal_contrastive_loss(A, B, 1.0, ids, cluster_ids=unknown), EVERY_ROW)

  def test_global_loss_on_one_replica_is_the_loss(self):
    ids = tf.constant([1, 2], tf.int64)
    self.assertAllClose(global_temporal_contrastive_loss(A, B, 1.0, ids),
                        temporal_contrastive_loss(A, B, 1.0, ids))


if __name__ == "__main__":
  tf.test.main()
