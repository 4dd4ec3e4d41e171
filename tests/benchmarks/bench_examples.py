"""`gcml bench examples`: triplet throughput and how hard the negatives are.

1. Generates a synthetic world (`gcml synth`) and cluster tables from its
   planted hierarchy (l0 = micro-cluster, l1 = subtopic, l2 = topic), unless
   `--clusters` points at real tables (e.g. the output of `gcml cluster`).
2. Throughput: one `gcml examples --kind=smart --level=0` run capped at
   `--num_triplets` (default 1M) per engine of `--engines` (default `beam`:
   the FnApiRunner, the batch engine of Beam's DirectRunner, which itself
   first tries Prism, which cannot start offline; `local`: the in-memory
   engine), on the same world. Wall time covers the whole stage: reading,
   sampling, feature join, encoding and writing; the engines' outputs are
   checked to be byte-identical when both run.
3. Hardness: smart runs at levels 0, 1, 2 and a random (CDML) run, each capped
   at `--cos_triplets`; for each, the mean cosine similarity of the content
   features (modalities concatenated, and each modality) of anchor-negative
   pairs, by the level the negative was actually drawn from, plus
   anchor-positive pairs for reference.

Prints and returns a JSON dict.
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _gcml(module, args, log):
  start = time.time()
  with open(log, "ab") as f:
    subprocess.run([sys.executable, "-m", f"launch.{module}", *args], check=True, cwd=REPO,
                   stdout=f, stderr=subprocess.STDOUT)
  return time.time() - start


def _parse(paths, modalities):
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  spec = {"level": tf.io.FixedLenFeature([], tf.int64)}
  for role in ("anchor", "positive", "negative"):
    for name, dim in modalities:
      spec[f"{role}/{name}"] = tf.io.FixedLenFeature([dim], tf.float32)
  out = {k: [] for k in spec}
  for batch in tf.data.TFRecordDataset(paths).batch(4096):
    parsed = tf.io.parse_example(batch, spec)
    for k in spec:
      out[k].append(parsed[k].numpy())
  return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}


def _cos(x, y):
  x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
  y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
  return (x * y).sum(axis=1)


def cosine_table(output_dir, modalities) -> dict:
  """Mean cosines by actual level: anchor-negative (all, per modality), anchor-positive."""
  data = _parse(sorted(glob.glob(f"{output_dir}/triplets-*.tfrecord")), modalities)
  vec = {role: np.concatenate([data[f"{role}/{n}"] for n, _ in modalities], axis=1)
         for role in ("anchor", "positive", "negative")}
  table = {}
  for level in sorted(set(data["level"].tolist())):
    rows = data["level"] == level
    entry = {"triplets": int(rows.sum())}
    for other in ("negative", "positive"):
      entry[f"anchor_{other}"] = round(float(
          _cos(vec["anchor"][rows], vec[other][rows]).mean()), 4)
    for name, _ in modalities:
      entry[f"anchor_negative_{name}"] = round(float(
          _cos(data[f"anchor/{name}"][rows], data[f"negative/{name}"][rows]).mean()), 4)
    table["random" if level < 0 else f"level_{level}"] = entry
  return table


def _timed_run(root, engine, num_triplets, common, log) -> dict:
  out = os.path.join(root, f"timed-{engine}")
  seconds = _gcml("examples", ["--kind=smart", "--level=0", f"--num_triplets={num_triplets}",
                               f"--output_dir={out}", f"--engine={engine}", *common], log)
  with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
    section = json.load(f)["examples"]
  written = section.get("triplets/total", 0)
  return {"triplets": written, "seconds": round(seconds, 1),
          "triplets_per_second": round(written / seconds, 1),
          "bytes_written": sum(os.path.getsize(x) for x in glob.glob(f"{out}/triplets-*")),
          "summary": {k: v for k, v in section.items()
                      if k.startswith(("triplets/", "fallback/", "anchors", "edges/used"))}}


def _output_digest(out) -> str:
  import hashlib  # pylint: disable=import-outside-toplevel
  digest = hashlib.sha256()
  for path in sorted(glob.glob(f"{out}/**", recursive=True)):
    if os.path.isfile(path):
      digest.update(os.path.relpath(path, out).encode())
      with open(path, "rb") as f:
        digest.update(f.read())
  return digest.hexdigest()


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench examples", allow_abbrev=False)
  p.add_argument("--num_items", type=int, default=250_000)
  p.add_argument("--mean_degree", type=float, default=20.0)
  p.add_argument("--modalities", default="mean_rgb:64,mean_audio:16",
                 help="smaller than production (1024+128) to keep the output ~1 GB")
  p.add_argument("--num_triplets", type=int, default=1_000_000)
  p.add_argument("--positives_per_anchor", type=int, default=10)
  p.add_argument("--cos_triplets", type=int, default=100_000)
  p.add_argument("--clusters", default="", help="cluster tables to use instead of the truth")
  p.add_argument("--runner", default="FnApiRunner")
  p.add_argument("--engines", default="beam", help="comma-separated: beam, local")
  p.add_argument("--skip_timing", action="store_true")
  p.add_argument("--output_dir", default="")
  p.add_argument("--keep", action="store_true")
  a = p.parse_args(argv)
  sys.path.insert(0, REPO)
  from pipelines.io.features import parse_modalities  # pylint: disable=import-outside-toplevel
  from tests.pipelines.examples import worlds  # pylint: disable=import-outside-toplevel
  modalities = [(m.name, m.dim) for m in parse_modalities(a.modalities)]
  root = a.output_dir or tempfile.mkdtemp(prefix="gcml-bench-examples-")
  os.makedirs(root, exist_ok=True)
  log = os.path.join(root, "log.txt")
  world = os.path.join(root, "world")
  synth_s = _gcml("synth", [f"--output_dir={world}", f"--num_items={a.num_items}",
                            f"--mean_degree={a.mean_degree}", f"--modalities={a.modalities}"], log)
  clusters = a.clusters or worlds.tables_from_synth(world, os.path.join(root, "truth"))
  common = [f"--edges={world}/edges-*.csv", f"--features={world}/features-*.tfrecord",
            f"--clusters={clusters}", f"--modalities={a.modalities}",
            f"--positives_per_anchor={a.positives_per_anchor}", f"--runner={a.runner}"]
  result = {"benchmark": "examples", "items": a.num_items, "mean_degree": a.mean_degree,
            "modalities": a.modalities, "positives_per_anchor": a.positives_per_anchor,
            "clusters": "given" if a.clusters else "synth truth (micro, subtopic, topic)",
            "runner": a.runner, "cores": os.cpu_count(), "synth_seconds": round(synth_s, 1)}
  engines = [e.strip() for e in a.engines.split(",") if e.strip()]
  if not a.skip_timing:
    result["throughput"] = {}
    for engine in engines:
      result["throughput"][engine] = _timed_run(root, engine, a.num_triplets, common, log)
    if len(engines) > 1:
      first = _output_digest(os.path.join(root, f"timed-{engines[0]}"))
      result["engines_byte_identical"] = all(
          _output_digest(os.path.join(root, f"timed-{e}")) == first for e in engines[1:])
    for engine in engines:
      shutil.rmtree(os.path.join(root, f"timed-{engine}"), ignore_errors=True)
  common.append(f"--engine={engines[0]}")
  hardness = {}
  for name, kind, level in (("smart_l0", "smart", 0), ("smart_l1", "smart", 1),
                            ("smart_l2", "smart", 2), ("random", "random", 0)):
    out = os.path.join(root, name)
    _gcml("examples", [f"--kind={kind}", f"--level={level}", f"--num_triplets={a.cos_triplets}",
                       f"--output_dir={out}", *common], log)
    hardness[name] = cosine_table(out, modalities)
    shutil.rmtree(out, ignore_errors=True)
  result["cosine_by_run"] = hardness
  result["anchor_negative_cosine"] = {
      "level_0": hardness["smart_l0"].get("level_0", {}).get("anchor_negative"),
      "level_1": hardness["smart_l1"].get("level_1", {}).get("anchor_negative"),
      "level_2": hardness["smart_l2"].get("level_2", {}).get("anchor_negative"),
      "random": hardness["random"].get("random", {}).get("anchor_negative")}
  if not a.keep and not a.output_dir:
    shutil.rmtree(root, ignore_errors=True)
  print(json.dumps(result, indent=2))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
