"""The TFRS in-batch softmax (`model/losses/retrieval.py`): hand-computed values,
agreement with the plain-TF `contrastive_loss`, and what TFRS's own accidental-hit
removal does with cluster ids."""

import math
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from model.losses import contrastive_loss
from model.losses.retrieval import in_batch_softmax_loss

E = math.e
# a_i . p_j with t = 1: row 0 [1, 0, 0], row 1 [0, 1, 1], row 2 [1, 0, 0]; labels on the diagonal.
A = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
P = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], np.float32)
AID, PID = [1, 2, 3], [4, 5, 6]


def loss(**kw):
  kw = {"anchor_ids": AID, "positive_ids": PID, "temperature": 1.0, **kw}
  return float(in_batch_softmax_loss(A, P, **kw))


class InBatchSoftmaxTest(tf.test.TestCase):

  def test_no_masking(self):
    want = ((math.log(E + 2) - 1) + (math.log(1 + 2 * E) - 1) + math.log(E + 2)) / 3
    self.assertAllClose(loss(), want, atol=1e-6)

  def test_temperature_scales_the_logits(self):
    want = ((math.log(E**2 + 2) - 2) + (math.log(1 + 2 * E**2) - 2) + math.log(E**2 + 2)) / 3
    self.assertAllClose(loss(temperature=0.5), want, atol=1e-6)

  def test_same_cluster_negatives_are_masked_unknown_never_matches(self):
    # Anchor clusters [7, 8, 7]; positive clusters [7, 8, -1 (unknown)].
    # Row 2 (cluster 7) loses p_0 (cluster 7): logits [0, 0 (label)] -> log 2.
    # Rows 0 and 1 keep everything (p_2's unknown cluster matches nothing).
    want = ((math.log(E + 2) - 1) + (math.log(1 + 2 * E) - 1) + math.log(2)) / 3
    self.assertAllClose(loss(anchor_cluster_ids=[7, 8, 7], positive_cluster_ids=[7, 8, -1]),
                        want, atol=1e-6)

  def test_the_label_is_kept_when_the_positive_shares_the_cluster(self):
    # Every item in one cluster: only the labels are left, loss 0.
    self.assertAllClose(loss(anchor_cluster_ids=[1, 1, 1], positive_cluster_ids=[1, 1, 1]), 0.0)

  def test_item_duplicates_of_the_positive_and_of_the_anchor(self):
    # Positive ids [4, 1, 4]: row 0 loses p_1 (= a_0's id 1) and p_2 (= p_0's id 4): loss 0;
    # row 1 keeps both: log(1 + 2e) - 1; row 2 loses p_0 (= p_2's id 4): log 2.
    want = (0 + math.log(1 + 2 * E) - 1 + math.log(2)) / 3
    self.assertAllClose(loss(positive_ids=[4, 1, 4]), want, atol=1e-6)

  def test_log_q_correction(self):
    q = np.array([0.5, 0.25, 1.0])
    logits = A.astype(np.float64) @ P.T.astype(np.float64) - np.log(q)[None, :]
    rows = [np.log(np.exp(r).sum()) - r[i] for i, r in enumerate(logits)]
    self.assertAllClose(loss(candidate_sampling_probability=q.astype(np.float32)),
                        np.mean(rows), atol=1e-6)

  def test_equals_contrastive_loss(self):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(24, 5)).astype(np.float32)
    p = rng.normal(size=(24, 5)).astype(np.float32)
    aid, pid = rng.integers(0, 30, 24), rng.integers(0, 30, 24)
    ac, pc = rng.integers(0, 4, 24), rng.integers(-1, 4, 24)
    for kw in ({}, {"anchor_cluster_ids": ac, "positive_cluster_ids": pc}):
      got = in_batch_softmax_loss(a, p, aid, pid, temperature=0.2, **kw)
      want = contrastive_loss(a, p, temperature=0.2, anchor_ids=aid, positive_ids=pid, **kw)
      self.assertAllClose(got, want, rtol=1e-5)

  def test_gradients_are_finite_when_a_row_is_all_masked(self):
    a, p = tf.constant(A), tf.constant(P)
    with tf.GradientTape() as tape:
      tape.watch([a, p])
      value = in_batch_softmax_loss(a, p, AID, PID, anchor_cluster_ids=[1, 1, 1],
                                    positive_cluster_ids=[1, 1, 1])
    for g in tape.gradient(value, [a, p]):
      self.assertTrue(np.all(np.isfinite(g)))

  def test_bad_arguments(self):
    with self.assertRaisesRegex(ValueError, "temperature"):
      loss(temperature=0.0)
    with self.assertRaisesRegex(ValueError, "both"):
      loss(anchor_cluster_ids=[1, 2, 3])


class TfrsAccidentalHitsTest(tf.test.TestCase):
  """What `Retrieval(remove_accidental_hits=True)` masks when given cluster ids."""

  def test_masks_the_positives_cluster_not_the_anchors_and_keeps_the_diagonal(self):
    task = tfrs.tasks.Retrieval(
        loss=tf.keras.losses.CategoricalCrossentropy(
            from_logits=True, reduction=tf.keras.losses.Reduction.NONE),
        temperature=1.0, remove_accidental_hits=True)
    # Anchor clusters [7, 8, 7]; positive clusters [9, 8, 9]: row 0's positive is not in
    # the anchor's cluster. TFRS masks for row 0 the candidates of p_0's cluster 9 (p_2),
    # not of a_0's cluster 7; row 2 loses p_0 (cluster 9 = p_2's); the diagonal stays.
    rows = task(A, P, candidate_ids=tf.constant([9, 8, 9]), compute_metrics=False,
                compute_batch_metrics=False).numpy()
    self.assertAllClose(rows, [math.log(E + 1) - 1, math.log(1 + 2 * E) - 1, math.log(2)],
                        atol=1e-6)


def test_under_mirrored_strategy():
  """Two replicas, each its own in-batch negatives: the script compares with numpy."""
  script = os.path.join(os.path.dirname(__file__), "mirrored_retrieval_check.py")
  root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
  env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": root, "TF_CPP_MIN_LOG_LEVEL": "2"}
  out = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=300,
                       env=env, cwd=root, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip().splitlines()[-1] == "ok"
