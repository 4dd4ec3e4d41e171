"""Contrastive (InfoNCE / NT-Xent) loss with duplicate and cluster masking."""

import math

import numpy as np
import tensorflow as tf

from model.losses import contrastive_loss


def np_one_direction(a, p, t, aid, pid, ac, pc, anchor_negatives):
  rows = []
  for i in range(len(a)):
    cands = [(a[i] @ p[j] / t, j == i, pid[j] if pid is not None else None,
              pc[j] if pc is not None else None, False) for j in range(len(a))]
    if anchor_negatives:
      cands += [(a[i] @ a[j] / t, False, aid[j] if aid is not None else None,
                 ac[j] if ac is not None else None, j == i) for j in range(len(a))]
    logits, label = [], None
    for logit, is_label, cid, cc, is_self in cands:
      if is_label:
        label = logit
        logits.append(logit)
        continue
      masked = is_self
      if aid is not None and cid in (aid[i], pid[i]):
        masked = True
      if ac is not None and cc == ac[i]:
        masked = True
      if not masked:
        logits.append(logit)
    logits = np.array(logits)
    m = logits.max()
    rows.append(m + np.log(np.exp(logits - m).sum()) - label)
  return np.mean(rows)


def np_contrastive(a, p, t=0.1, aid=None, pid=None, ac=None, pc=None, anchor_negatives=False,
                   symmetric=False):
  if ac is not None and pc is None:
    pc = ac
  loss = np_one_direction(a, p, t, aid, pid, ac, pc, anchor_negatives)
  if symmetric:
    loss = 0.5 * (loss + np_one_direction(p, a, t, pid, aid, pc, ac, anchor_negatives))
  return loss


def unit(rng, *shape):
  x = rng.normal(size=shape)
  return x / np.linalg.norm(x, axis=-1, keepdims=True)


class ContrastiveTest(tf.test.TestCase):

  def test_hand_case(self):
    # 2 pairs, dim 1: a = [1, 1], p = [1, -1], t = 1.
    # Row 0: logits [1 (label), -1]; row 1: logits [1, -1 (label)].
    a, p = np.array([[1.0], [1.0]]), np.array([[1.0], [-1.0]])
    l0 = math.log(math.e + math.exp(-1)) - 1
    l1 = math.log(math.e + math.exp(-1)) + 1
    self.assertAllClose(contrastive_loss(a, p, temperature=1.0), (l0 + l1) / 2)
    # Same cluster: the off-diagonal candidates are masked; both rows -> 0.
    self.assertAllClose(contrastive_loss(a, p, 1.0, anchor_cluster_ids=[7, 7]), 0.0)
    # Duplicate: p_1 has p_0's id, so row 0 has no negative (and vice versa).
    self.assertAllClose(contrastive_loss(a, p, 1.0, anchor_ids=[1, 2], positive_ids=[3, 3]), 0.0)
    # Anchor negatives: row 0 adds a_1 (logit 1): log(e + e^-1 + e) - 1.
    self.assertAllClose(contrastive_loss(a, p, 1.0, anchor_negatives=True),
                        (math.log(2 * math.e + math.exp(-1)) - 1
                         + math.log(2 * math.e + math.exp(-1)) + 1) / 2)

  def test_against_numpy(self):
    cases = [(0, 1, 3, False, False, False, False), (1, 6, 4, True, False, False, False),
             (2, 9, 5, True, True, False, False), (3, 12, 8, False, True, True, False),
             (4, 10, 4, True, True, True, True), (5, 7, 3, False, False, True, True)]
    for seed, batch, dim, with_ids, with_clusters, anchor_negs, symmetric in cases:
      rng = np.random.default_rng(seed)
      a, p = unit(rng, batch, dim), unit(rng, batch, dim)
      kw = {}
      if with_ids:  # duplicates among and across anchors and positives
        aid = rng.integers(0, batch, size=batch)
        pid = rng.integers(0, batch, size=batch) + batch // 2
        kw.update(anchor_ids=aid, positive_ids=pid)
      if with_clusters:
        kw.update(anchor_cluster_ids=rng.integers(0, 3, size=batch))
        if seed % 2:
          kw.update(positive_cluster_ids=rng.integers(0, 3, size=batch))
      for t in (0.1, 0.5):
        with self.subTest(seed=seed, t=t):
          got = contrastive_loss(a, p, t, anchor_negatives=anchor_negs, symmetric=symmetric, **kw)
          ref = np_contrastive(a, p, t, kw.get("anchor_ids"), kw.get("positive_ids"),
                               kw.get("anchor_cluster_ids"), kw.get("positive_cluster_ids"),
                               anchor_negs, symmetric)
          self.assertAllClose(got, ref, rtol=1e-9, atol=1e-9)

  def test_float32_and_gradient(self):
    rng = np.random.default_rng(9)
    a, p = unit(rng, 4, 3), unit(rng, 4, 3)
    ids = dict(anchor_ids=[0, 1, 2, 3], positive_ids=[4, 5, 4, 6], anchor_cluster_ids=[0, 1, 0, 2])
    self.assertAllClose(contrastive_loss(a.astype(np.float32), p.astype(np.float32), 0.2, **ids),
                        np_contrastive(a, p, 0.2, [0, 1, 2, 3], [4, 5, 4, 6], [0, 1, 0, 2]),
                        rtol=1e-5)
    x0 = np.stack([a, p])

    def f(x):
      return contrastive_loss(x[0], x[1], 0.2, anchor_negatives=True, symmetric=True, **ids)

    x = tf.constant(x0)
    with tf.GradientTape() as tape:
      tape.watch(x)
      loss = f(x)
    grad = tape.gradient(loss, x).numpy()
    self.assertTrue(np.all(np.isfinite(grad)))
    num, h = np.zeros_like(x0), 1e-6
    for idx in np.ndindex(x0.shape):
      e = np.zeros_like(x0)
      e[idx] = h
      num[idx] = (float(f(tf.constant(x0 + e))) - float(f(tf.constant(x0 - e)))) / (2 * h)
    self.assertAllClose(grad, num, atol=1e-6, rtol=1e-5)

  def test_bad_arguments(self):
    x = tf.zeros([2, 3])
    with self.assertRaises(ValueError):
      contrastive_loss(x, x, temperature=0.0)
    with self.assertRaises(ValueError):
      contrastive_loss(x, x, anchor_ids=[1, 2])


if __name__ == "__main__":
  tf.test.main()
