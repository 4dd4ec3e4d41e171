"""Triplet loss with online semi-hard mining: hand cases, numpy reference, gradients."""

import numpy as np
import tensorflow as tf

from model.losses import triplet_loss, semihard_negatives, hash_ids, DIAGNOSTICS


def np_triplet(a, p, n, aid, pid, nid, margin=0.5, mining=True):
  """Plain numpy reference of model/losses/triplet.py (float64, one loop per triplet)."""
  a, p, n = (np.asarray(x, np.float64) for x in (a, p, n))
  pool = np.concatenate([a, p, n])
  pool_ids = np.concatenate([aid, pid, nid])
  hinge, am, cm, used, none = [], [], [], [], []
  for i in range(len(a)):
    dap = np.sum((a[i] - p[i]) ** 2)
    dan = np.sum((a[i] - n[i]) ** 2)
    d = np.sum((pool - a[i]) ** 2, axis=1)
    ok = (pool_ids != aid[i]) & (pool_ids != pid[i]) & (d >= dap)
    if mining and ok.any():
      j = np.argmin(np.where(ok, d, np.inf))
      dcn, cid = d[j], pool_ids[j]
    else:
      dcn, cid = dan, nid[i]
    none.append(mining and not ok.any())
    hinge.append(max(0.0, dap - dcn + margin))
    am.append(dan - dap)
    cm.append(dcn - dap)
    used.append(cid == nid[i])
  diag = {
      "usage_ratio": np.mean(used), "no_semihard_fraction": np.mean(none),
      "active_fraction": np.mean(np.array(hinge) > 0),
      "assigned_margin_mean": np.mean(am), "assigned_margin_std": np.std(am),
      "chosen_margin_mean": np.mean(cm), "chosen_margin_std": np.std(cm),
  }
  return np.mean(hinge), diag


def random_triplets(rng, batch, dim, num_items=None, dtype=np.float64):
  """Triplets over an item table; a small `num_items` gives duplicate ids."""
  if num_items is None:  # all distinct
    ids = rng.permutation(10 * 3 * batch)[:3 * batch].reshape(3, batch)
  else:
    ids = rng.integers(0, num_items, size=(3, batch))
    ids[1] = np.where(ids[1] == ids[0], (ids[0] + 1) % num_items, ids[1])
  table = rng.normal(size=(ids.max() + 1, dim))
  table /= np.linalg.norm(table, axis=1, keepdims=True)
  emb = [table[i].astype(dtype) for i in ids]
  return emb, [i.astype(np.int64) for i in ids]


class TripletHandTest(tf.test.TestCase):

  def test_hand_case_1d(self):
    # Pool (1-d): a0=0 a1=1.1 p0=1 p1=1.6 n0=5 n1=0.9, ids 10..15.
    a, p, n = [[0.0], [1.1]], [[1.0], [1.6]], [[5.0], [0.9]]
    ids = [10, 11], [12, 13], [14, 15]
    loss, diag = triplet_loss(*(tf.constant(x, tf.float64) for x in (a, p, n)),
                              *(tf.constant(i, tf.int64) for i in ids))
    # Triplet 0: d(a,p)=1; candidates a1 (1.21), p1 (2.56), n0 (25) qualify;
    # n1 (0.81) is closer than the positive. Chosen a1: hinge 1 - 1.21 + .5 = .29.
    # Triplet 1: d(a,p)=.25; a0 (1.21) and n0 (15.21) qualify, p0 (.01) and
    # n1 (.04) do not. Chosen a0: hinge max(0, .25 - 1.21 + .5) = 0.
    self.assertAllClose(loss, 0.145)
    expected = {"usage_ratio": 0.0, "no_semihard_fraction": 0.0, "active_fraction": 0.5,
                "assigned_margin_mean": (24 - 0.21) / 2, "assigned_margin_std": (24 + 0.21) / 2,
                "chosen_margin_mean": (0.21 + 0.96) / 2, "chosen_margin_std": (0.96 - 0.21) / 2}
    self.assertEqual(set(diag), set(DIAGNOSTICS))
    for k, v in expected.items():
      self.assertAllClose(diag[k], v, msg=k)

  def test_equal_distance_qualifies(self):
    # d(a, c) == d(a, p) == 1 exactly: ">=" keeps c (margin 0, hinge = margin).
    a, p, n = [[0.0]], [[1.0]], [[3.0]]
    extra = [[-1.0]]  # a second triplet supplies the candidate -1
    loss, diag = triplet_loss(
        tf.constant(a + [[50.0]]), tf.constant(p + [[51.0]]), tf.constant(n + extra),
        margin=0.5)
    # Triplet 0 chooses -1 (d=1 >= 1): hinge .5. Triplet 1 (a=50, d(a,p)=1):
    # candidates 0 (2500), 1 (2401), 3 (2209), -1 (2601); chosen 3: hinge 0.
    self.assertAllClose(loss, 0.5 / 2)
    self.assertAllClose(diag["chosen_margin_mean"], (0.0 + 2208.0) / 2)

  def test_exact_tie_with_the_positive_is_kept_float32(self):
    # The reproducer. p1 is a copy of p0 (another id), so for triplet 0
    # d(a0, p1) = d(a0, p0) = .16 exactly: ">=" chooses p1, hinge = margin.
    # (With the threshold in one form and the candidates in another, p1 rounded
    # below the threshold and the next candidate, a1 at d = .82, was chosen:
    # hinge max(0, .16 - .82 + .5) = 0, loss .25.)
    # Triplet 1: a1=(0,1), d(a1,p1)=1.7; candidates a0 (.82), p0 (1.7, a copy
    # of its positive under id 3: a tie, kept), n0 (1.22), n1 (4): p0 chosen,
    # hinge .5. Loss (.5 + .5) / 2 = .5.
    a = tf.constant([[.1, .1], [0., 1.]], tf.float32)
    p = tf.constant([[.1, -.3], [.1, -.3]], tf.float32)
    n = tf.constant([[-.1, -.1], [0., -1.]], tf.float32)
    ids = [tf.constant(i, tf.int64) for i in ([1, 2], [3, 4], [5, 6])]
    loss, diag = triplet_loss(a, p, n, *ids, margin=0.5)
    self.assertAllClose(loss, 0.5)
    self.assertAllClose(diag["chosen_margin_mean"], 0.0)
    got = semihard_negatives(a, p, tf.concat([a, p, n], 0), ids[0], ids[1],
                             tf.concat(ids, 0), block_size=1)
    self.assertAllEqual(got.index, [3, 2])  # pool rows: p1 for triplet 0, p0 for triplet 1
    for width in (2, 4, 6):  # the tie survives any blocking
      got = semihard_negatives(a, p, tf.concat([a, p, n], 0), ids[0], ids[1],
                               tf.concat(ids, 0), block_size=width)
      self.assertAllEqual(got.index, [3, 2])
    # Pass 2 keeps one candidate per triplet: the tie is still decided exactly.
    got = semihard_negatives(a, p, tf.concat([a, p, n], 0), ids[0], ids[1],
                             tf.concat(ids, 0), num_exact=1)
    self.assertAllEqual(got.index, [3, 2])

  def test_fallback_and_duplicates(self):
    # Pool: a0=0 (id 10), a1=5 (11), p0=10 (12), p1=6 (13), n0=6.2 (13, a
    # duplicate of p1), n1=3 (14).
    a, p, n = [[0.0], [5.0]], [[10.0], [6.0]], [[6.2], [3.0]]
    ids = [[10, 11], [12, 13], [13, 14]]
    loss, diag = triplet_loss(tf.constant(a), tf.constant(p), tf.constant(n),
                              *(tf.constant(i, tf.int64) for i in ids))
    # Triplet 0: d(a,p)=100, every candidate is closer -> keep n0: 100-38.44+.5.
    # Triplet 1: d(a,p)=1; 6.2 (d=1.44) would be the closest semi-hard one but
    # has the positive's id; then 3 (d=4), its own negative: hinge 0.
    self.assertAllClose(loss, 62.06 / 2)
    self.assertAllClose(diag["no_semihard_fraction"], 0.5)
    self.assertAllClose(diag["usage_ratio"], 1.0)  # the fall-back counts as used
    got = semihard_negatives(tf.constant(a), tf.constant(p), tf.constant(a + p + n),
                             tf.constant(ids[0], tf.int64), tf.constant(ids[1], tf.int64),
                             tf.constant(ids[0] + ids[1] + ids[2], tf.int64), block_size=2)
    self.assertAllEqual(got.index, [-1, 5])
    self.assertAllEqual(got.found, [False, True])

  def test_same_id_as_assigned_is_used(self):
    a, p, n = [[0.0], [100.0]], [[1.0], [101.0]], [[9.0], [1.2]]
    # Both negatives carry id 5: whichever slot is chosen, it is "the same item".
    ids = [[1, 2], [3, 4], [5, 5]]
    _, diag = triplet_loss(tf.constant(a), tf.constant(p), tf.constant(n),
                           *(tf.constant(i, tf.int64) for i in ids))
    # Triplet 0 chooses 1.2 (id 5) -> used; triplet 1 chooses 9 (id 5) -> used.
    self.assertAllClose(diag["usage_ratio"], 1.0)

  def test_mining_none(self):
    rng = np.random.default_rng(3)
    (a, p, n), ids = random_triplets(rng, 6, 4)
    loss, diag = triplet_loss(a, p, n, *ids, mining="none")
    ref, ref_diag = np_triplet(a, p, n, *ids, mining=False)
    self.assertAllClose(loss, ref)
    self.assertAllClose(diag["usage_ratio"], 1.0)
    self.assertAllClose(diag["chosen_margin_mean"], ref_diag["assigned_margin_mean"])

  def test_string_ids_are_hashed(self):
    ids = tf.constant(["a", "b", "a"])
    h = hash_ids(ids)
    self.assertEqual(h.dtype, tf.int64)
    self.assertEqual(int(h[0]), int(h[2]))
    self.assertNotEqual(int(h[0]), int(h[1]))

  def test_bad_arguments(self):
    x = tf.zeros([2, 3])
    with self.assertRaises(ValueError):
      triplet_loss(x, x, x, mining="hard")
    with self.assertRaises(ValueError):
      triplet_loss(x, x, x, anchor_ids=tf.constant([1, 2], tf.int64))


class TripletReferenceTest(tf.test.TestCase):

  def check(self, seed, batch, dim, num_items, block_size, ids_given=True, dtype=np.float64):
    rng = np.random.default_rng(seed)
    (a, p, n), ids = random_triplets(rng, batch, dim, num_items, dtype)
    if not ids_given:
      ids = list(np.arange(3 * batch).reshape(3, batch))
    ref, ref_diag = np_triplet(a, p, n, *ids)
    loss, diag = triplet_loss(a, p, n, *(ids if ids_given else (None,) * 3),
                              block_size=block_size)
    tol = 1e-9 if dtype == np.float64 else 2e-5
    self.assertAllClose(loss, ref, atol=tol, rtol=tol)
    for k, v in ref_diag.items():
      self.assertAllClose(diag[k], v, atol=10 * tol, rtol=10 * tol, msg=k)
    return ref_diag

  def test_random_against_numpy(self):
    cases = [(1, 1, 3, None, 4), (2, 5, 3, None, 2), (3, 17, 8, None, 7), (4, 40, 5, None, 64),
             (5, 17, 8, 12, 5), (6, 40, 4, 30, 16), (7, 9, 2, 5, 1), (8, 33, 16, 20, 100)]
    seen_fallback = seen_used = False
    for seed, batch, dim, num_items, block in cases:
      with self.subTest(seed=seed):
        d = self.check(seed, batch, dim, num_items, block)
        seen_fallback |= d["no_semihard_fraction"] > 0
        seen_used |= d["usage_ratio"] > 0
    self.assertTrue(seen_fallback and seen_used)  # the cases exercise both branches

  def test_positional_ids(self):
    for seed in (11, 12):
      self.check(seed, 13, 4, None, 5, ids_given=False)

  def test_float32(self):
    for seed in (21, 22, 23):
      self.check(seed, 24, 16, None, 8, dtype=np.float32)

  def test_block_size_does_not_matter(self):
    rng = np.random.default_rng(31)
    (a, p, n), ids = random_triplets(rng, 19, 6, 25)
    results = [triplet_loss(a, p, n, *ids, block_size=b)[0].numpy() for b in (1, 4, 19, 57, 1000)]
    self.assertAllClose(results, [results[0]] * len(results), atol=0, rtol=0)

  def test_tf_function_dynamic_batch_and_xla(self):
    rng = np.random.default_rng(41)
    (a, p, n), ids = random_triplets(rng, 10, 4, 14, np.float32)
    ref, _ = np_triplet(a, p, n, *ids)
    spec = tf.TensorSpec([None, 4], tf.float32)
    ispec = tf.TensorSpec([None], tf.int64)
    fn = tf.function(lambda *x: triplet_loss(*x, block_size=7)[0],
                     input_signature=[spec] * 3 + [ispec] * 3)
    self.assertAllClose(fn(a, p, n, *ids), ref, rtol=1e-5)
    xla = tf.function(lambda *x: triplet_loss(*x, block_size=7)[0], jit_compile=True)
    self.assertAllClose(xla(a, p, n, *ids), ref, rtol=1e-5)


class TripletGradientTest(tf.test.TestCase):

  def test_numeric_gradient(self):
    for seed, num_items in ((51, None), (52, 6)):
      rng = np.random.default_rng(seed)
      (a, p, n), ids = random_triplets(rng, 4, 3, num_items)
      # Random (not normalised) points so that most hinges are active.
      a, p, n = (x + 0.3 * rng.normal(size=x.shape) for x in (a, p, n))
      x0 = np.stack([a, p, n])

      def f(x):
        return triplet_loss(x[0], x[1], x[2], *ids, margin=1.0)[0]

      x = tf.constant(x0)
      with tf.GradientTape() as tape:
        tape.watch(x)
        loss = f(x)
      grad = tape.gradient(loss, x).numpy()
      self.assertGreater(float(loss), 0.0)
      h = 1e-6
      num = np.zeros_like(x0)
      for idx in np.ndindex(x0.shape):
        e = np.zeros_like(x0)
        e[idx] = h
        num[idx] = (f(tf.constant(x0 + e)) - f(tf.constant(x0 - e))).numpy() / (2 * h)
      self.assertAllClose(grad, num, atol=1e-6, rtol=1e-5)
      self.assertGreater(np.abs(grad).sum(), 0.0)


if __name__ == "__main__":
  tf.test.main()
