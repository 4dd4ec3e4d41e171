"""`gcml bench frames`: temporal contrastive pre-training (`gcml train
--mode=temporal_contrastive`) on a small synthetic frames world.

A `gcml synth --frames` world (`--items` items, 16-d `rgb`, 4-d `audio`,
`frame_drift` 1.0) is pre-trained per seed for `--steps` steps (batch 32, clips
of 8 frames) by the trainer, as `gcml train` runs it. Scored per seed: the mean
loss of the first and last 20 steps, clip top-1 (the share of 64 videos whose
second clip is the nearest second clip to their first clip) for the untrained
tower (masked-mean pooling) and the pre-trained one, and the CPU and wall
seconds of the training.

The retrieval comparison with the graph (video-level vs frame-level, with and
without pre-training) is `gcml bench compare --methods=gcml_l0,gcml_l0_pre,...`
(tests/benchmarks/compare_methods.py).

`main(argv) -> dict`; prints the dict as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

MODS = (("rgb", 16), ("audio", 4))


def _clip_top1(model, paths) -> float:
  from model import input_frames  # pylint: disable=import-outside-toplevel

  batch = next(iter(input_frames.clip_pairs_dataset(paths, MODS, 8, 64, seed=99)))
  za, zb = model(batch["a"]).numpy(), model(batch["b"]).numpy()
  return float(np.mean(np.argmax(za @ zb.T, axis=1) == np.arange(64)))


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench frames")
  p.add_argument("--items", type=int, default=200)
  p.add_argument("--steps", type=int, default=150)
  p.add_argument("--seeds", default="1,2,3")
  a = p.parse_args(argv)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel

  from model import trainer  # pylint: disable=import-outside-toplevel
  from launch import bench  # pylint: disable=import-outside-toplevel
  from model.temporal_tower import MASK_KEY, TemporalEmbeddingModel  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  from pipelines import synth  # pylint: disable=import-outside-toplevel
  from pipelines.io.features import Modality  # pylint: disable=import-outside-toplevel

  out = tempfile.mkdtemp(prefix="gcml_bench_frames_")
  synth.generate(synth.SynthConfig(
      num_items=a.items, branching=(2, 2, 3), latent_dim=8, processes=1, frames=True,
      frame_drift=1.0, modalities=(Modality("mean_rgb", 16), Modality("mean_audio", 4))),
      out, progress=lambda _: None)
  frames = os.path.join(out, "frames-*.tfrecord")
  paths = sorted(tf.io.gfile.glob(frames))
  rows = []
  for seed in (int(s) for s in a.seeds.split(",")):
    cfg = TrainConfig.from_flags(
        preset="demo", mode="temporal_contrastive", train_data=frames,
        model_dir=os.path.join(out, f"pretrain-{seed}"), modalities="rgb:16,audio:4",
        hidden_units="32", embedding_dim=16, batch_size=32, train_steps=a.steps,
        checkpoint_every=a.steps, summary_every=a.steps, seed=seed, deterministic=True)
    tf.keras.utils.set_random_seed(seed)  # the trainer's initial weights, untrained
    untrained = TemporalEmbeddingModel(cfg.model)
    untrained({**{n: tf.zeros([1, 1, d]) for n, d in MODS}, MASK_KEY: tf.ones([1, 1], tf.bool)})
    cpu, wall = time.process_time(), time.time()
    result = trainer.train(cfg)
    bench.require_finished(result, f"seed {seed}")
    cpu, wall = time.process_time() - cpu, time.time() - wall
    losses = [l for _, l in result.losses]
    rows.append({"seed": seed, "loss_first20": round(float(np.mean(losses[:20])), 3),
                 "loss_last20": round(float(np.mean(losses[-20:])), 3),
                 "clip_top1_untrained": _clip_top1(untrained, paths),
                 "clip_top1_pretrained": _clip_top1(result.model, paths),
                 "train_cpu_s": round(cpu, 1), "train_wall_s": round(wall, 1)})
  result = {"items": a.items, "steps": a.steps, "runs": rows}
  print(json.dumps(result, indent=2))
  return result
