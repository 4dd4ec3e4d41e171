"""Frame-level tf.data input: the pipelines' dequantisation, clips, determinism."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf

from model import input_frames
from model.temporal_tower import MASK_KEY
from pipelines import synth
from pipelines.io.features import Modality
from pipelines.io import frame_validation

MODS = (("rgb", 16), ("audio", 4))


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("w"))
  synth.generate(synth.SynthConfig(
      num_items=60, branching=(2, 2, 2), latent_dim=8, processes=1, frames=True,
      modalities=(Modality("mean_rgb", 16), Modality("mean_audio", 4))), out,
      progress=lambda _: None)
  return sorted(glob.glob(os.path.join(out, "frames-*.tfrecord")))


def test_tf_reader_dequantises_like_the_pipelines(frame_files):
  local = frame_validation.read_frames_local(frame_files, tuple(Modality(*m) for m in MODS))
  for record in tf.data.TFRecordDataset(frame_files).take(5):
    parsed = input_frames.parse_frames(record, MODS)
    item = local.items[parsed["id"].numpy().decode()]
    for name, _ in MODS:
      np.testing.assert_array_equal(parsed[name].numpy(), item.frames[name])


def test_clip_pairs_have_masks_and_repeat_with_the_seed(frame_files):
  def first(seed):
    ds = input_frames.clip_pairs_dataset(frame_files, MODS, clip_len=8, batch_size=4, seed=seed,
                                         noise_std=0.1, frame_dropout=0.2)
    return next(iter(ds))
  a, again, other = first(1), first(1), first(2)
  assert a["a"]["rgb"].shape == (4, 8, 16) and a["b"][MASK_KEY].shape == (4, 8)
  assert a["a"][MASK_KEY].numpy().any(axis=1).all()
  np.testing.assert_array_equal(a["a"]["rgb"], again["a"]["rgb"])
  assert not np.array_equal(a["a"]["rgb"].numpy(), other["a"]["rgb"].numpy())
  assert list(a["id"].numpy()) == list(other["id"].numpy())  # file order, not shuffled
