"""`gcml synth --frames`: frame-level files that drift around the item's vector."""

import glob
import os

import numpy as np
import pytest

from pipelines import synth
from pipelines.errors import InputError
from pipelines.io.features import Modality
from pipelines.io import frame_features as ff
from pipelines.io import frame_validation as fv

SMALL = dict(num_items=240, branching=(2, 2, 3), latent_dim=8, items_per_shard=100,
             modalities=(Modality("mean_rgb", 16), Modality("mean_audio", 4)))
FRAME_MODS = (Modality("rgb", 16), Modality("audio", 4))


def _files(d, prefix):
  return {os.path.basename(p): open(p, "rb").read()
          for p in sorted(glob.glob(os.path.join(d, prefix + "*")))}


@pytest.fixture(scope="module")
def frames_dir(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("frames"))
  synth.generate(synth.SynthConfig(seed=3, processes=2, frames=True, **SMALL), out,
                 progress=lambda _: None)
  return out


def test_frames_are_valid_and_counted(frames_dir):
  paths = sorted(glob.glob(os.path.join(frames_dir, "frames-*.tfrecord")))
  assert len(paths) == 3
  local = fv.read_frames_local(paths, FRAME_MODS)
  assert local.rejections == [] and len(local.items) == 240
  counts = [len(item.frames["rgb"]) for item in local.items.values()]
  assert min(counts) >= 10 and max(counts) <= 30
  stats = open(os.path.join(frames_dir, "synth.json")).read()
  assert f'"frames": {sum(counts)}' in stats


def test_same_bytes_whatever_the_processes_and_features_unchanged(frames_dir, tmp_path):
  again, plain = str(tmp_path / "again"), str(tmp_path / "plain")
  synth.generate(synth.SynthConfig(seed=3, processes=1, frames=True, **SMALL), again,
                 progress=lambda _: None)
  synth.generate(synth.SynthConfig(seed=3, processes=1, **SMALL), plain, progress=lambda _: None)
  assert _files(again, "frames") == _files(frames_dir, "frames")
  for prefix in ("features", "edges", "hierarchy"):
    assert _files(plain, prefix) == _files(frames_dir, prefix)
  assert _files(plain, "frames") == {} and "frame" not in open(f"{plain}/synth.json").read()


def _cos(a, b):
  return float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))


def test_nearby_frames_are_closer_than_distant_ones(frames_dir):
  paths = sorted(glob.glob(os.path.join(frames_dir, "frames-*.tfrecord")))
  items = fv.read_frames_local(paths, FRAME_MODS).items.values()
  near, far, own, other = [], [], [], []
  items = sorted(items, key=lambda i: i.id)
  for k, item in enumerate(items):
    f = item.frames["rgb"]
    near.append(_cos(f[0], f[1]))
    far.append(_cos(f[0], f[-1]))
    own.append(_cos(f[0], f.mean(0)))
    other.append(_cos(f[0], items[k - 1].frames["rgb"].mean(0)))
  assert np.mean(near) > np.mean(far) + 0.05
  assert np.mean(own) > np.mean(other) + 0.1


def test_bad_frame_counts_are_refused():
  with pytest.raises(InputError, match="--min_frames and --max_frames"):
    synth.SynthConfig(frames=True, min_frames=5, max_frames=2).validate()
  assert ff.DEFAULT_FRAME_MODALITIES[0].name == "rgb"
