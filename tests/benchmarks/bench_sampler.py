"""`gcml bench sampler`: CLC with uniform vs log-uniform candidate sampling on hash-ordered labels.

A synthetic CLC set shaped like `gcml examples` output: `--classes` clusters
whose labels carry no frequency order (every class has `--per_class` training
examples, features = class centre + noise, shards in random order), trained
with the trainer (`--steps` steps, batch 128, 64 sampled classes) once per
sampler from the same seed. Scored on 3 held-out examples per class with the
FULL softmax over all classes: cross-entropy, top-1 and top-10 accuracy, and
top-1 for the lower and upper half of the labels (log-uniform favours low
labels).

`main(argv) -> dict`; prints the dict as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

MODS = (("mean_rgb", 32), ("mean_audio", 8))


def _records(centers, classes, per_class, rng):
  from pipelines.io import tf_example

  records, labels, feats = [], [], {n: [] for n, _ in MODS}
  for c in range(classes):
    for j in range(per_class):
      x = {n: centers[n][c] + 0.5 * rng.normal(size=d).astype(np.float32) for n, d in MODS}
      records.append(tf_example.encode({"id": f"v{c}-{j}", "label": [c], **x}))
      labels.append(c)
      for n, v in x.items():
        feats[n].append(v)
  return records, np.array(labels), {n: np.stack(v) for n, v in feats.items()}


def _score(model_dir, model, test_x, test_y) -> dict:
  import tensorflow as tf

  reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
  names = [n for n in reader.get_variable_to_shape_map() if "OPTIMIZER" not in n]
  w = reader.get_tensor(next(n for n in names if "class_table/embeddings" in n))
  b = reader.get_tensor(next(n for n in names if "class_table/biases" in n))[:, 0]
  logits = model(test_x, training=False).numpy() @ w.T + b
  true = logits[np.arange(len(test_y)), test_y]
  m = logits.max(1)
  ce = np.mean(m + np.log(np.exp(logits - m[:, None]).sum(1)) - true)
  hit = logits.argmax(1) == test_y
  low = test_y < logits.shape[1] // 2
  return {"full_softmax_ce": round(float(ce), 4), "top1": round(float(hit.mean()), 4),
          "top10": round(float(np.mean((logits > true[:, None]).sum(1) < 10)), 4),
          "top1_lower_half_labels": round(float(hit[low].mean()), 4),
          "top1_upper_half_labels": round(float(hit[~low].mean()), 4)}


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench sampler", description=__doc__.splitlines()[0],
                              allow_abbrev=False)
  p.add_argument("--classes", type=int, default=2000)
  p.add_argument("--per_class", type=int, default=20)
  p.add_argument("--steps", type=int, default=600)
  p.add_argument("--samplers", default="uniform,log_uniform")
  args = p.parse_args(argv)
  import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
  import tensorflow as tf

  from model import trainer
  from launch import bench  # pylint: disable=import-outside-toplevel
  from model.config import EmbeddingModelConfig, ModalityConfig
  from model.trainer_config import TrainConfig
  from tests.model.shards import write_shards

  rng = np.random.default_rng(0)
  centers = {n: rng.normal(size=(args.classes, d)).astype(np.float32) for n, d in MODS}
  train, _, _ = _records(centers, args.classes, args.per_class, rng)
  train = [train[i] for i in np.random.default_rng(2).permutation(len(train))]
  _, test_y, test_x = _records(centers, args.classes, 3, np.random.default_rng(1))
  result = {"classes": args.classes, "train_examples": len(train), "steps": args.steps,
            "batch_size": 128, "num_sampled": 64}
  with tempfile.TemporaryDirectory() as d:
    data = write_shards(d, "labels", train, num_shards=4)
    with open(os.path.join(d, "classes.tsv"), "w") as f:
      f.write("label\tcluster\tsize\n" + "".join(
          f"{c}\tc{c}\t{args.per_class}\n" for c in range(args.classes)))
    for sampler in args.samplers.split(","):
      tf.keras.utils.set_random_seed(0)
      model_dir = os.path.join(d, sampler)
      cfg = TrainConfig.from_flags(
          preset="demo", mode="clc", train_data=data, model_dir=model_dir,
          model=EmbeddingModelConfig.demo(modalities=tuple(ModalityConfig(n, k) for n, k in MODS),
                                          hidden_units=(64,), embedding_dim=32),
          batch_size=128, num_sampled=64, sampler=sampler, train_steps=args.steps,
          learning_rate=0.01, steps_per_loop=50, checkpoint_every=args.steps,
          summary_every=args.steps, shuffle_buffer=10000)
      r = trainer.train(cfg)
      bench.require_finished(r, sampler)
      result[sampler] = _score(model_dir, r.model, test_x, test_y)
  print(json.dumps(result, indent=1))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
