"""Temporal contrastive pre-training on a small synthetic world with frames."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from model import input_frames
from model.config import EmbeddingModelConfig, ModalityConfig
from model.temporal_pretrain import PretrainConfig, pretrain
from pipelines import synth
from pipelines.io.features import Modality

MODS = (("rgb", 16), ("audio", 4))


def _clip_retrieval(model, paths):
  """Share of videos whose clip b is the nearest clip b to their clip a (over 64 videos)."""
  batch = next(iter(input_frames.clip_pairs_dataset(paths, MODS, 8, 64, seed=99)))
  za, zb = model(batch["a"]).numpy(), model(batch["b"]).numpy()
  return float(np.mean(np.argmax(za @ zb.T, axis=1) == np.arange(64)))


@pytest.mark.slow
def test_pretraining_lowers_the_loss_and_finds_the_other_clip(tmp_path):
  synth.generate(synth.SynthConfig(
      num_items=200, branching=(2, 2, 3), latent_dim=8, processes=1, frames=True,
      frame_drift=1.0, modalities=(Modality("mean_rgb", 16), Modality("mean_audio", 4))),
      str(tmp_path), progress=lambda _: None)
  paths = sorted(glob.glob(os.path.join(str(tmp_path), "frames-*.tfrecord")))
  model_config = EmbeddingModelConfig(modalities=tuple(ModalityConfig(*m) for m in MODS),
                                      hidden_units=(32,), embedding_dim=16)
  config = PretrainConfig(steps=150, batch_size=32, seed=1)
  model, losses = pretrain(paths, MODS, model_config, config)
  assert np.mean(losses[-20:]) < np.mean(losses[:20]) - 0.2
  untrained, _ = pretrain(paths, MODS, model_config, PretrainConfig(steps=0, seed=1))
  untrained(next(iter(input_frames.clip_pairs_dataset(paths, MODS, 8, 2)))["a"])
  assert _clip_retrieval(model, paths) > _clip_retrieval(untrained, paths)
  tf.keras.backend.clear_session()
