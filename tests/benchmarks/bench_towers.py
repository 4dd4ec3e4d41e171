"""`gcml bench towers`: what keeps the input's information (issue 14's ablation).

Trains tower variants on one triplet set at an equal budget (steps x batch),
over several seeds, and scores each on the cold-start test items exactly as
`gcml evaluate` does (MAP@60, NDCG@60), beside the raw content features.
Training and scoring run in this process (no Beam export), so a variant
costs its training steps and one pass over the test items.

Inputs: a synth world (`--world`, for the features, the test edges and the
modalities) and triplets made from it (`--triplets`, contract 5); with
`--validation_data` every variant also selects its exported step on the
validation items (`--validate_every`), as `gcml train` does.

Variants (`--variants`, comma-separated names):
  papers        the papers' towers: late fusion, raw inputs (today's default)
  l2_inputs     the same with each modality L2-normalised first
  residual      normalize(x P + MLP(x)), P from the training features
  residual_nomining  the residual tower without in-batch semi-hard mining
  papers_nomining    the papers' towers without mining

Prints mean and spread (sample standard deviation) per variant and the raw
features' score; writes results.json and towers.png to `--output_dir`.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

VARIANTS = {
    "papers": {},
    "l2_inputs": {"input_norm": "l2"},
    "residual": {"tower": "residual"},
    "residual_nomining": {"tower": "residual", "mining": "none"},
    "papers_nomining": {"mining": "none"},
}


def test_items(world: str, modalities) -> tuple[dict, set]:
  """Per-modality features of the test items, and the test-test edges."""
  from pipelines.io import features as features_lib  # pylint: disable=import-outside-toplevel
  from pipelines.io import inputs  # pylint: disable=import-outside-toplevel
  from pipelines import split  # pylint: disable=import-outside-toplevel
  from pipelines.io import edges_local as local_io  # pylint: disable=import-outside-toplevel
  mods = tuple(features_lib.Modality(n, d) for n, d in modalities)
  items = {}
  for data in inputs.tfrecords(sorted(glob.glob(f"{world}/features-*.tfrecord"))):
    item = features_lib.parse_item(data, mods)
    if isinstance(item, features_lib.Item) and split.is_test(item.id):
      items[item.id] = item.features
  graph = local_io.read_edges_local(sorted(glob.glob(f"{world}/edges-*.csv")), "csv")
  edges = {(graph.ids[a], graph.ids[b]) for a, b in zip(graph.src.tolist(), graph.dst.tolist())
           if graph.ids[a] in items and graph.ids[b] in items}
  return items, edges


def score(vectors: dict, edges: set) -> dict:
  from model import metrics  # pylint: disable=import-outside-toplevel
  queries, database, relevance, exclude = metrics.retrieval_sets(edges, set(vectors))
  out = metrics.retrieval_metrics(np.stack([vectors[q] for q in queries]),
                                  np.stack([vectors[d] for d in database]), relevance, exclude)
  return {k: out[k] for k in ("map@60", "ndcg@60")}


def embed(model, items: dict, modalities) -> dict:
  ids = sorted(items)
  out = {}
  for start in range(0, len(ids), 2048):
    chunk = ids[start:start + 2048]
    batch = {n: np.stack([items[i][n] for i in chunk]) for n, _ in modalities}
    for i, v in zip(chunk, np.asarray(model(batch, training=False))):
      out[i] = v
  return out


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench towers", allow_abbrev=False)
  p.add_argument("--world", required=True, help="a gcml synth output folder")
  p.add_argument("--triplets", required=True, help="triplet TFRecord glob (contract 5)")
  p.add_argument("--validation_data", default="")
  p.add_argument("--validate_every", type=int, default=250)
  p.add_argument("--variants", default=",".join(VARIANTS))
  p.add_argument("--seeds", type=int, default=3)
  p.add_argument("--train_steps", type=int, default=1500)
  p.add_argument("--batch_size", type=int, default=128)
  p.add_argument("--output_dir", default="")
  a = p.parse_args(argv)
  sys.path.insert(0, REPO)
  import model  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from model import trainer  # pylint: disable=import-outside-toplevel
  from launch import bench  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  with open(os.path.join(a.world, "synth.json"), encoding="utf-8") as f:
    synth = json.load(f)
  declared = synth.get("config", {}).get("modalities", [("mean_rgb", 1024), ("mean_audio", 128)])
  if isinstance(declared, str):
    declared = [m.split(":") for m in declared.split(",")]
  modalities = [(n, int(d)) for n, d in declared]
  items, edges = test_items(a.world, modalities)
  from model import metrics  # pylint: disable=import-outside-toplevel
  raw = {i: np.concatenate([metrics.normalize_rows(f[n][None, :])[0] for n, _ in modalities])
         for i, f in items.items()}
  results = {"raw_features": score(raw, edges), "variants": {}}
  root = a.output_dir or tempfile.mkdtemp(prefix="gcml-bench-towers-")
  os.makedirs(root, exist_ok=True)
  mods_flag = ",".join(f"{n}:{d}" for n, d in modalities)
  for name in a.variants.split(","):
    runs = []
    for seed in range(a.seeds):
      tf.keras.backend.clear_session()
      over = dict(VARIANTS[name])
      extra = {"validation_data": a.validation_data,
               "validate_every": a.validate_every} if a.validation_data else {}
      cfg = TrainConfig.from_flags(
          preset="demo", mode="triplet", train_data=a.triplets, modalities=mods_flag,
          model_dir=os.path.join(root, f"{name}-{seed}"), train_steps=a.train_steps,
          batch_size=a.batch_size, seed=seed, deterministic=True,
          checkpoint_every=a.train_steps, **over, **extra)
      result = trainer.train(cfg)
      bench.require_finished(result, f"{name} seed {seed}")
      scores = score(embed(result.model, items, modalities), edges)
      scores["best_step"] = result.validation.get("best_step", a.train_steps)
      runs.append(scores)
      print(f"{name} seed {seed}: MAP@60 {scores['map@60']:.4f} NDCG@60 "
            f"{scores['ndcg@60']:.4f} (step {scores['best_step']})", file=sys.stderr, flush=True)
    results["variants"][name] = {
        "runs": runs,
        **{f"{k}_mean": float(np.mean([r[k] for r in runs])) for k in ("map@60", "ndcg@60")},
        **{f"{k}_std": float(np.std([r[k] for r in runs], ddof=1)) if len(runs) > 1 else 0.0
           for k in ("map@60", "ndcg@60")}}
  results.update(world=a.world, triplets=a.triplets, train_steps=a.train_steps,
                 batch_size=a.batch_size, seeds=a.seeds, validation=bool(a.validation_data))
  lines = ["| variant | MAP@60 | NDCG@60 |", "|---|---|---|",
           f"| raw features | {results['raw_features']['map@60']:.4f} | "
           f"{results['raw_features']['ndcg@60']:.4f} |"]
  for name, v in results["variants"].items():
    lines.append(f"| {name} | {v['map@60_mean']:.4f} ± {v['map@60_std']:.4f} | "
                 f"{v['ndcg@60_mean']:.4f} ± {v['ndcg@60_std']:.4f} |")
  results["table"] = "\n".join(lines)
  with open(os.path.join(root, "results.json"), "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)
  _plot(os.path.join(root, "towers.png"), results)
  print(results["table"])
  return results


def _plot(path: str, results: dict) -> None:
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  names = list(results["variants"])
  fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(names), 3.4), dpi=100)
  means = [results["variants"][n]["map@60_mean"] for n in names]
  stds = [results["variants"][n]["map@60_std"] for n in names]
  ax.bar(names, means, yerr=stds, capsize=4, color="tab:blue")
  ax.axhline(results["raw_features"]["map@60"], color="gray", linestyle="--",
             label="raw features")
  ax.set_ylabel("test MAP@60")
  ax.legend()
  plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


if __name__ == "__main__":
  main(sys.argv[1:])
