"""`gcml bench frames`: temporal contrastive pre-training on a small synthetic frames world.

A `gcml synth --frames` world (`--items` items, 16-d `rgb`, 4-d `audio`,
`frame_drift` 1.0) is pre-trained per seed for `--steps` steps (batch 32, clips
of 8 frames, `model/temporal_pretrain.py`). Scored per seed: the mean loss of
the first and last 20 steps, and clip top-1, the share of 64 videos whose
second clip is the nearest second clip to their first clip, for the untrained
tower (masked-mean pooling) and the pre-trained one.

This is the pre-training signal only; the graph fine-tuning and the
video-level vs frame-level retrieval comparison (issue 18 step 6) are not
here yet.

`main(argv) -> dict`; prints the dict as JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import tempfile

import numpy as np

MODS = (("rgb", 16), ("audio", 4))


def _clip_top1(model, paths) -> float:
  from model import input_frames

  batch = next(iter(input_frames.clip_pairs_dataset(paths, MODS, 8, 64, seed=99)))
  za, zb = model(batch["a"]).numpy(), model(batch["b"]).numpy()
  return float(np.mean(np.argmax(za @ zb.T, axis=1) == np.arange(64)))


def main(argv: list[str]) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench frames")
  p.add_argument("--items", type=int, default=200)
  p.add_argument("--steps", type=int, default=150)
  p.add_argument("--seeds", default="1,2,3")
  a = p.parse_args(argv)
  from model import input_frames
  from model.config import EmbeddingModelConfig, ModalityConfig
  from model.temporal_pretrain import PretrainConfig, pretrain
  from pipelines import synth
  from pipelines.io.features import Modality

  out = tempfile.mkdtemp(prefix="gcml_bench_frames_")
  synth.generate(synth.SynthConfig(
      num_items=a.items, branching=(2, 2, 3), latent_dim=8, processes=1, frames=True,
      frame_drift=1.0, modalities=(Modality("mean_rgb", 16), Modality("mean_audio", 4))),
      out, progress=lambda _: None)
  paths = sorted(glob.glob(os.path.join(out, "frames-*.tfrecord")))
  model_config = EmbeddingModelConfig(modalities=tuple(ModalityConfig(*m) for m in MODS),
                                      hidden_units=(32,), embedding_dim=16)
  rows = []
  for seed in (int(s) for s in a.seeds.split(",")):
    model, losses = pretrain(paths, MODS, model_config,
                             PretrainConfig(steps=a.steps, batch_size=32, seed=seed))
    untrained, _ = pretrain(paths, MODS, model_config, PretrainConfig(steps=0, seed=seed))
    untrained(next(iter(input_frames.clip_pairs_dataset(paths, MODS, 8, 2)))["a"])
    rows.append({"seed": seed, "loss_first20": round(float(np.mean(losses[:20])), 3),
                 "loss_last20": round(float(np.mean(losses[-20:])), 3),
                 "clip_top1_untrained": _clip_top1(untrained, paths),
                 "clip_top1_pretrained": _clip_top1(model, paths)})
  result = {"items": a.items, "steps": a.steps, "runs": rows}
  print(json.dumps(result, indent=2))
  return result
