"""The frame-level methods of `gcml bench compare` (issue 18, docs/frames.md).

The world's frame-level features come from `gcml synth --frames` run again with
the world's preset, seed and size (the other files keep their bytes, so the
items are the same). One temporal contrastive pre-training per world and
budget (`gcml train --mode=temporal_contrastive`, the same steps and batch as
every method, on the frames of every item: it needs no graph) serves:

* `temporal`: the pre-trained temporal tower on the test items' frames
  (frame-level, pre-trained, no graph);
* `temporal_video`: its video-level network on the test items' video-level
  features (pre-trained, no graph, the mean of the frames instead of the
  attention pooling);
* `gcml_l0_pre`: `gcml_l0` (smart L0 triplets) fine-tuned from it with
  `--init_from` (video-level, pre-trained, with the graph).

`gcml_l0` is the same without pre-training. A frame-level model fine-tuned with
the graph is not here: the triplets carry video-level features only.
"""

from __future__ import annotations

import json
import os

import numpy as np

FRAME_METHODS = {
    "temporal": {"examples": None, "train": {"mode": "temporal_contrastive"}, "frames": True},
    "temporal_video": {"examples": None, "train": {"mode": "temporal_contrastive"},
                       "frames": True},
    "gcml_l0_pre": {"examples": {"kind": "smart", "level": 0}, "train": {"mode": "triplet"},
                    "pretrain": True},
}


def frames_dir(world, run_gcml) -> str:
  """The world again with `--frames` (run once); its folder."""
  out = os.path.join(world.root, "frames")
  if not os.path.exists(os.path.join(out, "synth.json")):
    with open(os.path.join(world.data, "synth.json"), encoding="utf-8") as f:
      num_items = json.load(f)["config"]["num_items"]
    run_gcml("synth", [f"--output_dir={out}", f"--preset={world.preset}",
                       f"--seed={world.seed}", f"--num_items={num_items}", "--frames"],
             world.log)
  return out


def frame_modalities(world) -> list[tuple[str, int]]:
  from pipelines.io.frame_features import frame_name  # pylint: disable=import-outside-toplevel
  return [(frame_name(n), d) for n, d in world.modalities]


def pretrain(world, run_gcml, train_steps: int, batch_size: int, model_flags: dict):
  """The world's temporal pre-training at this budget (resumed when done); its TrainResult."""
  from model import trainer  # pylint: disable=import-outside-toplevel
  from launch import bench  # pylint: disable=import-outside-toplevel
  from model.trainer_config import TrainConfig  # pylint: disable=import-outside-toplevel
  frames = frames_dir(world, run_gcml)
  run = "-".join([f"s{train_steps}", f"b{batch_size}",
                  *(f"{k}_{v}" for k, v in sorted(model_flags.items()))])
  cfg = TrainConfig.from_flags(
      preset="demo", mode="temporal_contrastive", train_data=f"{frames}/frames-*.tfrecord",
      modalities=",".join(f"{n}:{d}" for n, d in frame_modalities(world)),
      model_dir=os.path.join(world.root, "models", run, "pretrain"), train_steps=train_steps,
      batch_size=batch_size, seed=world.seed, deterministic=True, checkpoint_every=train_steps,
      **{"tower": "mlp", **model_flags})  # the papers' towers unless --tower (compare_methods)
  result = trainer.train(cfg)
  bench.require_finished(result, f"{world.preset} seed {world.seed} pretraining")
  return result


def embed_frames(model, frames: dict, batch: int = 256) -> dict:
  """{id: embedding} of the temporal model on each item's frames (padded, masked)."""
  from pipelines.export.saved_model import stack_batch  # pylint: disable=import-outside-toplevel
  ids, out = sorted(frames), {}
  for start in range(0, len(ids), batch):
    chunk, stacked = stack_batch([(i, frames[i]) for i in ids[start:start + batch]])
    for i, v in zip(chunk, np.asarray(model(stacked, training=False))):
      out[i] = v
  return out


def score_pretrained(world, run_gcml, name: str, items: dict, edges: set, train_steps: int,
                     batch_size: int, model_flags: dict) -> dict:
  """MAP@60 / NDCG@60 of `temporal` or `temporal_video` on the test items."""
  from tests.benchmarks import bench_towers  # pylint: disable=import-outside-toplevel
  vectors = pretrained_vectors(world, run_gcml, name, items, train_steps, batch_size,
                               model_flags)
  scores = bench_towers.score(vectors, edges)
  scores["best_step"] = train_steps
  return scores


def pretrained_vectors(world, run_gcml, name: str, items: dict, train_steps: int,
                       batch_size: int, model_flags: dict) -> dict:
  """{id: embedding} of `temporal` (frames) or `temporal_video` (video-level features)."""
  from pipelines.io import frame_validation  # pylint: disable=import-outside-toplevel
  from pipelines.io.features import Modality  # pylint: disable=import-outside-toplevel
  from tests.benchmarks import bench_towers  # pylint: disable=import-outside-toplevel
  result = pretrain(world, run_gcml, train_steps, batch_size, model_flags)
  if name == "temporal_video":  # video-level features under their frame-level names
    from pipelines.io.frame_features import frame_name  # pylint: disable=import-outside-toplevel
    renamed = {i: {frame_name(n): v for n, v in f.items()} for i, f in items.items()}
    vectors = bench_towers.embed(result.model.video_model, renamed, frame_modalities(world))
  else:
    paths = sorted(os.path.join(frames_dir(world, run_gcml), p) for p in os.listdir(
        frames_dir(world, run_gcml)) if p.startswith("frames-"))
    read = frame_validation.read_frames_local(
        paths, tuple(Modality(n, d) for n, d in frame_modalities(world)))
    vectors = embed_frames(result.model, {i: read.items[i].frames for i in items
                                          if i in read.items})
  return vectors
