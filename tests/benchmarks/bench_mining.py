"""`gcml bench mining`: semi-hard mining, forward + backward, vs the tfa algorithm.

For each batch of B triplets (256-d, L2-normalised, random) it measures, in a
fresh subprocess per configuration:

* `blocked`: `model.losses.triplet_loss` (candidates = the 3B items of the
  batch, searched in blocks, memory O(B * block)).
* `tfa`: a re-implementation, written here, of the algorithm of
  `tfa.losses.triplet_semihard_loss` (tensorflow-addons is not a dependency):
  the N x N pairwise distance matrix is tiled N times into an [N*N, N] mask,
  O(N^3) memory. Mapping of the triplets onto its label input: the N = 3B
  embeddings are [anchors; positives; negatives]; anchor i and positive i get
  label i, negative i gets label B + i. tfa then treats every same-label
  ordered pair (a_i, p_i) and (p_i, a_i) as a positive pair (2B of them) and
  mines among all differently-labelled items (strictly farther than the
  positive; fall-back: the farthest negative). Semantics differ slightly from
  ours (ours: B anchor-side triplets, ">=", fall-back to the assigned
  negative); the cost model is what is compared. Configurations whose
  estimated memory exceeds --baseline_max_gb are skipped and reported.

Wall time: mean (and min) over --repeats calls of a `tf.function` computing the
loss and the gradients w.r.t. the embeddings, after one warm-up call. Memory:
peak RSS of the child minus its RSS after TensorFlow start-up and input
creation (the peak is reset there through /proc/self/clear_refs).
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Measured in this benchmark (float32, forward + backward): the tfa algorithm
# holds about this many bytes per element of its N^3 tensors at its peak.
TFA_BYTES_PER_CUBE = 20.0


def _parse(argv):
  p = argparse.ArgumentParser(prog="gcml bench mining", description=__doc__.split("\n")[0],
                              allow_abbrev=False)
  p.add_argument("--batch_sizes", default="256,1024,2048,9600",
                 help="comma-separated numbers of triplets B")
  p.add_argument("--dim", type=int, default=256)
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--block_size", type=int, default=1024, help="candidates per block (ours)")
  p.add_argument("--baseline_max_batch", type=int, default=2048,
                 help="largest B for which the tfa baseline is attempted")
  p.add_argument("--baseline_max_gb", type=float, default=10.0,
                 help="skip tfa configurations whose estimated memory exceeds this "
                      "(or 60%% of the memory available now, whichever is less)")
  p.add_argument("--baseline_extra_sizes", default="64,128",
                 help="smaller B run for both methods, to show the baseline's scaling")
  p.add_argument("--child", choices=["blocked", "tfa"], help=argparse.SUPPRESS)
  p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
  return p.parse_args(argv)


def _ints(text):
  return [int(x) for x in text.split(",") if x.strip()]


def _status_kb(field):
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith(field + ":"):
        return int(line.split()[1])
  return 0


def _tfa_semihard(labels, embeddings, margin):
  """The tfa semi-hard triplet loss algorithm (squared L2), re-implemented."""
  import tensorflow as tf
  n = tf.shape(labels)[0]
  sq = tf.reduce_sum(tf.square(embeddings), axis=1, keepdims=True)
  dist = tf.maximum(sq + tf.transpose(sq) - 2.0 * tf.matmul(embeddings, embeddings,
                                                              transpose_b=True), 0.0)
  dist = dist * (1.0 - tf.eye(n))  # zero diagonal
  same = tf.equal(labels[:, None], labels[None, :])
  different = tf.logical_not(same)
  # Row (i * n + j) of the tiled matrices asks: which k are farther from j
  # than i is (dist[j, k] > dist[j, i]) and have another label than j?
  dist_tiled = tf.tile(dist, [n, 1])  # [n*n, n]: the N^3 tensor
  mask = tf.logical_and(tf.tile(different, [n, 1]),
                        tf.greater(dist_tiled, tf.reshape(tf.transpose(dist), [-1, 1])))
  mask_f = tf.cast(mask, tf.float32)
  has_outside = tf.transpose(tf.reshape(tf.reduce_sum(mask_f, 1, keepdims=True) > 0.0, [n, n]))
  row_max = tf.reduce_max(dist_tiled, 1, keepdims=True)  # masked minimum, tfa's way
  outside = tf.reduce_min((dist_tiled - row_max) * mask_f, 1, keepdims=True) + row_max
  outside = tf.transpose(tf.reshape(outside, [n, n]))
  different_f = tf.cast(different, tf.float32)
  row_min = tf.reduce_min(dist, 1, keepdims=True)  # masked maximum
  inside = tf.tile(tf.reduce_max((dist - row_min) * different_f, 1, keepdims=True) + row_min,
                   [1, n])
  semihard = tf.where(has_outside, outside, inside)
  positives = tf.cast(same, tf.float32) - tf.eye(n)
  per_pair = tf.maximum((margin + dist - semihard) * positives, 0.0)
  return tf.reduce_sum(per_pair) / tf.reduce_sum(positives)


def _child(args):
  """One configuration in this process; prints one JSON line."""
  import model  # noqa: F401  (TF_USE_LEGACY_KERAS)
  import numpy as np
  import tensorflow as tf

  from model.losses import triplet_loss

  b, d = args.batch, args.dim
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3 * b, d)).astype(np.float32)
  x /= np.linalg.norm(x, axis=1, keepdims=True)
  emb = tf.Variable(x)
  ids = tf.constant(np.arange(3 * b), tf.int64)
  labels = tf.constant(np.concatenate([np.arange(b), np.arange(b), b + np.arange(b)]), tf.int64)

  if args.child == "blocked":
    def loss_fn(e):
      return triplet_loss(e[:b], e[b:2 * b], e[2 * b:], ids[:b], ids[b:2 * b], ids[2 * b:],
                          margin=0.5, block_size=args.block_size)[0]
  else:
    def loss_fn(e):
      return _tfa_semihard(labels, e, 0.5)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = loss_fn(emb)
    return loss, tape.gradient(loss, emb)

  base_kb = _status_kb("VmRSS")
  try:
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")  # reset the peak RSS to the current RSS
  except OSError:
    pass
  t0 = time.perf_counter()
  loss, grad = step()
  float(loss), grad.numpy()
  first = time.perf_counter() - t0
  times = []
  for _ in range(args.repeats):
    t0 = time.perf_counter()
    loss, grad = step()
    float(loss), grad.numpy()
    times.append(time.perf_counter() - t0)
  peak_kb = _status_kb("VmHWM")
  print(json.dumps({
      "wall_s": float(np.mean(times)), "wall_min_s": float(np.min(times)),
      "first_call_s": first, "extra_peak_mb": (peak_kb - base_kb) / 1024.0,
      "loss": float(loss), "grad_norm": float(np.linalg.norm(grad.numpy())),
  }))


def _run_child(method, batch, args):
  cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--child", method,
         "--batch", str(batch), "--dim", str(args.dim), "--repeats", str(args.repeats),
         "--block_size", str(args.block_size)]
  env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
             TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
  if proc.returncode != 0:
    return {"error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _available_gb():
  try:
    with open("/proc/meminfo") as f:
      return next(int(l.split()[1]) for l in f if l.startswith("MemAvailable:")) / 2**20
  except (OSError, StopIteration):
    return 4.0


def _device():
  cpu = platform.processor() or "cpu"
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
  except (OSError, StopIteration):
    pass
  return f"CPU: {cpu}, {os.cpu_count()} cores, no accelerator"


def main(argv):
  args = _parse(argv)
  if args.child:
    _child(args)
    return {}
  import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
  import tensorflow as tf

  sizes = sorted(set(_ints(args.batch_sizes)) | set(_ints(args.baseline_extra_sizes)))
  rows = []
  for b in sizes:
    n = 3 * b
    row = {"batch_triplets": b, "items": n, "blocked": _run_child("blocked", b, args)}
    need_gb = TFA_BYTES_PER_CUBE * n**3 / 2**30
    allowed_gb = min(args.baseline_max_gb, 0.6 * _available_gb())
    if b > args.baseline_max_batch or need_gb > allowed_gb:
      row["tfa"] = {"skipped": f"would need ~{need_gb:.1f} GB (N^3 = {n**3:.3g} elements; "
                               f"allowed {allowed_gb:.1f} GB)"}
    else:
      row["tfa"] = _run_child("tfa", b, args)
    if "wall_s" in row["tfa"] and "wall_s" in row["blocked"]:
      row["speedup"] = row["tfa"]["wall_s"] / row["blocked"]["wall_s"]
    rows.append(row)
  # Where the baseline could not run: its time extrapolated as N^3 from the
  # largest measured size (labelled as an estimate).
  measured = [r for r in rows if "wall_s" in r["tfa"]]
  if measured:
    ref = measured[-1]
    for r in rows:
      if "skipped" in r["tfa"] and "wall_s" in r["blocked"]:
        est = ref["tfa"]["wall_s"] * (r["items"] / ref["items"]) ** 3
        r["tfa"]["estimated_wall_s"] = est
        r["estimated_speedup"] = est / r["blocked"]["wall_s"]
  by_b = {r["batch_triplets"]: r for r in rows}
  targets = {}
  if 9600 in by_b:
    targets["b9600_extra_memory_under_4gb"] = by_b[9600]["blocked"].get("extra_peak_mb", 1e9) < 4096
  if 1024 in by_b:
    r = by_b[1024]
    measured_speedup = "speedup" in r
    value = r.get("speedup", r.get("estimated_speedup"))
    targets["b1024_at_least_10x_faster"] = None if value is None else value >= 10
    targets["b1024_speedup_basis"] = (
        "measured" if measured_speedup else
        f"estimated: tfa {r['tfa'].get('skipped', '')}; its time extrapolated as N^3 from "
        f"B={measured[-1]['batch_triplets'] if measured else '?'} (measured growth per doubling "
        "of B was above 8x, so this underestimates it)")
  summary = [{
      "B": r["batch_triplets"],
      "blocked_s": r["blocked"].get("wall_s"), "blocked_extra_mb": r["blocked"].get("extra_peak_mb"),
      "tfa_s": r["tfa"].get("wall_s", r["tfa"].get("estimated_wall_s")),
      "tfa_extra_mb": r["tfa"].get("extra_peak_mb", r["tfa"].get("skipped")),
      "speedup": r.get("speedup", r.get("estimated_speedup")),
      "tfa_measured": "wall_s" in r["tfa"],
  } for r in rows]
  result = {
      "benchmark": "mining", "device": _device(), "tensorflow": tf.__version__,
      "dim": args.dim, "repeats": args.repeats, "block_size": args.block_size,
      "margin": 0.5, "summary": summary, "targets": targets, "rows": rows,
  }
  print(json.dumps(result, indent=2))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
