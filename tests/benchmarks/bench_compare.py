"""`gcml bench compare`: the papers' comparison on a synthetic world.

Trains CDML (random negatives), GCML with smart negatives from cluster level
0, 1 and 2, and CLC (cluster labels), each for the same number of steps at the
same batch size (so the same number of training triplets / examples), exports
their embeddings and scores related-item retrieval on the cold-start split
(MAP@60 as the GCML paper defines it, NDCG@60) next to the raw-content-feature baseline.

Besides the scores it measures what each method's negatives are, against the
planted truth of the synthetic world: for smart and random triplets, the
share of negatives that sit in the anchor's planted micro-cluster, subtopic
or topic, and the share joined to the anchor by an edge. This is what
explains an ordering the papers found and this world does not give.

`--clusters=affinity` (default) uses `gcml cluster` on the edges, the real
pipeline; `--clusters=truth` uses the planted hierarchy as cluster tables
(micro, subtopic, topic), to separate the method from the clustering.

Every stage runs as `python -m launch.NAME` in its own process; outputs
(report.md, results.json, compare.png) go to `--output_dir`.
Prints and returns a JSON dict.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> (examples kind, level, trainer mode[, extra examples flags, extra train flags])
METHODS = {
    "cdml": ("random", 0, "triplet"),
    "gcml_l0": ("smart", 0, "triplet"),
    "gcml_l1": ("smart", 1, "triplet"),
    "gcml_l2": ("smart", 2, "triplet"),
    "clc": ("labels", 0, "clc"),
    # In-batch softmax over graph pairs (TFRS Retrieval); with L0 (or L1) pseudo-labels:
    # same-cluster negatives masked, then also 2 positives per anchor from its L0 cluster
    # (docs/contrastive.md).
    "contrastive": ("smart", 0, "contrastive"),
    "contrastive_masked": ("smart", 0, "contrastive", ("--cluster_id_level=0",),
                           ("--cluster_masking",)),
    "contrastive_masked_cpos": ("smart", 0, "contrastive",
                                ("--cluster_id_level=0", "--cluster_positives=2"),
                                ("--cluster_masking",)),
    "contrastive_masked_l1": ("smart", 0, "contrastive", ("--cluster_id_level=1",),
                              ("--cluster_masking",)),
}


def _gcml(module, args, log):
  start = time.time()
  with open(log, "ab") as f:
    f.write(f"\n$ gcml {module} {' '.join(args)}\n".encode())
    f.flush()
    subprocess.run([sys.executable, "-m", f"launch.{module}", *args], check=True, cwd=REPO,
                   stdout=f, stderr=subprocess.STDOUT)
  return time.time() - start


def _edges(world):
  """The world's unique edges as (smaller id, larger id) pairs (the validated reader)."""
  from pipelines.clustering import local_io  # pylint: disable=import-outside-toplevel
  edges = local_io.read_edges_local(sorted(glob.glob(f"{world}/edges-*.csv")), "csv")
  ids = edges.ids
  return {(ids[a], ids[b]) for a, b in zip(edges.src.tolist(), edges.dst.tolist())}


def negative_truth(examples_dir, truth, edges) -> dict:
  """Where the negatives of a triplet set sit in the planted hierarchy."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  spec = {f"{r}/id": tf.io.FixedLenFeature([], tf.string) for r in ("anchor", "negative")}
  same = np.zeros(3)
  linked = n = 0
  files = sorted(glob.glob(f"{examples_dir}/triplets-*.tfrecord"))
  for batch in tf.data.TFRecordDataset(files).batch(8192):
    parsed = tf.io.parse_example(batch, spec)
    for a, b in zip(parsed["anchor/id"].numpy(), parsed["negative/id"].numpy()):
      a, b = a.decode(), b.decode()
      ta, tb = truth[a], truth[b]  # (micro, subtopic, topic)
      same += [ta[2] == tb[2], ta[1] == tb[1], ta[0] == tb[0]]
      linked += ((a, b) if a < b else (b, a)) in edges
      n += 1
  return {"triplets": n, "same_topic": round(same[0] / n, 4),
          "same_subtopic": round(same[1] / n, 4), "same_micro": round(same[2] / n, 4),
          "joined_by_edge": round(linked / n, 4)}


def _plot(path, rows):
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  names = list(rows)
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
  for ax, metric in zip(axes, ("map@60", "ndcg@60")):
    values = [rows[n][metric] for n in names]
    ax.bar(names, values, color=["#888" if n == "raw_features" else "#3a7" for n in names])
    ax.set_title(metric.upper())
    ax.set_ylim(min(values) * 0.9, max(values) * 1.05)
    ax.tick_params(axis="x", rotation=30)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _report(a, rows, negatives, cluster_stats) -> str:
  lines = [f"# Papers' comparison on synth ({a.num_items} items, clusters: {a.clusters})", "",
           f"Same budget per method: {a.train_steps} steps x batch {a.batch_size} "
           f"({a.train_steps * a.batch_size} training examples, drawn from at most "
           f"{a.num_triplets} triplets per triplet set), demo-size network, "
           f"seed {a.seed}. Clusters per level: {cluster_stats}.", "",
           "| model | MAP@60 | NDCG@60 |", "|---|---|---|"]
  lines += [f"| {n} | {r['map@60']:.4f} | {r['ndcg@60']:.4f} |" for n, r in rows.items()]
  lines += ["", "Where the negatives sit in the planted hierarchy (share of triplets):", "",
            "| examples | same topic | same subtopic | same micro-cluster | edge to anchor |",
            "|---|---|---|---|---|"]
  lines += [f"| {n} | {v['same_topic']} | {v['same_subtopic']} | {v['same_micro']} | "
            f"{v['joined_by_edge']} |" for n, v in negatives.items()]
  return "\n".join(lines) + "\n"


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench compare")
  p.add_argument("--num_items", type=int, default=25_000)
  p.add_argument("--train_steps", type=int, default=3000)
  p.add_argument("--batch_size", type=int, default=128)
  p.add_argument("--num_triplets", type=int, default=200_000,
                 help="the same cap on every triplet set (CLC: one example per clustered item)")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--clusters", default="affinity", choices=("affinity", "truth"))
  p.add_argument("--methods", default=",".join(METHODS))
  p.add_argument("--runner", default="FnApiRunner")
  p.add_argument("--output_dir", default="")
  p.add_argument("--validate_every", type=int, default=0,
                 help="model selection on the validation items every N steps (0: off, every "
                 "method exports its last step)")
  p.add_argument("--tower", default="mlp", choices=("mlp", "residual"))
  a = p.parse_args(argv)
  sys.path.insert(0, REPO)
  root = a.output_dir or tempfile.mkdtemp(prefix="gcml-bench-compare-")
  os.makedirs(root, exist_ok=True)
  log = os.path.join(root, "log.txt")
  world, clusters = os.path.join(root, "data"), os.path.join(root, f"clusters_{a.clusters}")
  times = {}
  if not os.path.exists(os.path.join(world, "synth.json")):
    times["synth"] = _gcml("synth", [f"--output_dir={world}", f"--num_items={a.num_items}",
                                     f"--seed={a.seed}"], log)
  if a.clusters == "truth":
    from tests.examples import worlds  # pylint: disable=import-outside-toplevel
    worlds.tables_from_synth(world, clusters)
    cluster_stats = "planted (micro, subtopic, topic)"
  else:
    times["cluster"] = _gcml("cluster", [f"--edges={world}/edges-*.csv", f"--output_dir={clusters}",
                                         "--engine=local", f"--seed={a.seed}"], log)
    with open(os.path.join(clusters, "summary.json"), encoding="utf-8") as f:
      cluster_stats = [s["clusters"] for s in json.load(f)["cluster"]["level_stats"]]
  data = [f"--edges={world}/edges-*.csv", f"--features={world}/features-*.tfrecord"]
  from tests.examples import worlds  # pylint: disable=import-outside-toplevel
  truth, edges = worlds.synth_hierarchy(world), _edges(world)
  rows, negatives, raw = {}, {}, None
  methods = a.methods.split(",")
  selection = []
  if a.validate_every:
    validation = os.path.join(root, "validation")
    if not os.path.exists(os.path.join(validation, "summary.json")):
      _gcml("examples", ["--kind=validation", f"--output_dir={validation}", "--num_shards=2",
                         f"--runner={a.runner}", *data], log)
    selection = [f"--validation_data={validation}", f"--validate_every={a.validate_every}"]
  for name in methods:
    kind, level, mode, *extra = METHODS[name]
    examples_flags, train_flags = (*extra, (), ())[:2]
    run = os.path.join(root, a.clusters, name)
    examples = os.path.join(run, "examples")
    t = time.time()
    _gcml("examples", [f"--kind={kind}", f"--level={level}", f"--clusters={clusters}",
                       f"--output_dir={examples}", f"--seed={a.seed}", "--num_shards=4",
                       *([f"--num_triplets={a.num_triplets}"] if kind != "labels" else []),
                       f"--runner={a.runner}", *examples_flags, *data], log)
    if kind != "labels":
      negatives[name] = negative_truth(examples, truth, edges)
    prefix = "examples" if kind == "labels" else "triplets"
    _gcml("train", [f"--mode={mode}", f"--train_data={examples}/{prefix}-*.tfrecord",
                    "--preset=demo", f"--model_dir={run}/model", f"--train_steps={a.train_steps}",
                    f"--batch_size={a.batch_size}", f"--seed={a.seed}",
                    f"--checkpoint_every={a.train_steps}", f"--tower={a.tower}", *selection,
                    *train_flags],
          log)
    _gcml("export", [f"--model_dir={run}/model", f"--features={world}/features-*.tfrecord",
                     f"--output_dir={run}/export", "--top_k=10", f"--runner={a.runner}"], log)
    _gcml("evaluate", [f"--embeddings={run}/export/embeddings-*", *data,
                       f"--output_dir={run}/evaluate"], log)
    with open(os.path.join(run, "evaluate", "metrics.json"), encoding="utf-8") as f:
      retrieval = json.load(f)["retrieval"]
    rows[name] = {k: retrieval["embeddings"][k] for k in ("map@60", "ndcg@60")}
    if selection:
      with open(os.path.join(run, "model", "validation.json"), encoding="utf-8") as f:
        rows[name]["selected_step"] = json.load(f)["best_step"]
    raw = {k: retrieval["raw_features"][k] for k in ("map@60", "ndcg@60")}
    times[name] = time.time() - t
    print(f"{name}: MAP@60 {rows[name]['map@60']:.4f} NDCG@60 {rows[name]['ndcg@60']:.4f} "
          f"({times[name]:.0f}s)", file=sys.stderr, flush=True)
  rows["raw_features"] = raw
  out = os.path.join(root, a.clusters)
  _plot(os.path.join(out, "compare.png"), rows)
  report = _report(a, rows, negatives, cluster_stats)
  with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as f:
    f.write(report)
  result = {"benchmark": "compare", "items": a.num_items, "clusters": a.clusters,
            "cluster_sizes": cluster_stats, "train_steps": a.train_steps,
            "batch_size": a.batch_size, "num_triplets": a.num_triplets, "retrieval": rows, "negatives": negatives,
            "seconds": {k: round(v, 1) for k, v in times.items()},
            "report": os.path.join(out, "report.md")}
  with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as f:
    json.dump(result, f, indent=1)
  print(json.dumps(result, indent=2))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
