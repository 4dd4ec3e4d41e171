"""gcml train --mode=temporal_contrastive (frame-level pre-training) and --init_from."""

import dataclasses
import glob
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from launch.train import config_from_argv
from model import train_objects, trainer
from model.errors import ConfigError
from model.export import load_embedder
from model.init_from import VALUE_SUFFIX
from model.strategies import make_strategy
from model.temporal_tower import MASK_KEY
from pipelines import synth
from pipelines.io import tf_example
from pipelines.io.features import Modality
from tests.model.shards import write_shards

MODS = (("rgb", 16), ("audio", 4))
CHECK = pathlib.Path(__file__).with_name("mirrored_temporal_check.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]
NETWORK = ["--hidden_units=32", "--embedding_dim=16"]


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
  out = str(tmp_path_factory.mktemp("world"))
  synth.generate(synth.SynthConfig(
      num_items=60, branching=(2, 2, 2), latent_dim=8, processes=1, frames=True,
      modalities=(Modality("mean_rgb", 16), Modality("mean_audio", 4))), out,
      progress=lambda _: None)
  return os.path.join(out, "frames-*.tfrecord")


@pytest.fixture(scope="module")
def pretrained(frames, tmp_path_factory):
  """A 4-step pre-training run (checkpoints at 2 and 4), then resumed to 6."""
  model_dir = str(tmp_path_factory.mktemp("pretrained"))
  cfg, _ = config_from_argv(["--mode=temporal_contrastive", f"--train_data={frames}",
                             f"--model_dir={model_dir}", "--batch_size=16", "--train_steps=4",
                             "--checkpoint_every=2", "--deterministic", *NETWORK])
  first = trainer.train(cfg)
  again = trainer.train(dataclasses.replace(
      cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=6)))
  return cfg, first, again


def test_modalities_are_detected_from_the_frames(pretrained):
  cfg, _, _ = pretrained
  assert cfg.modalities == MODS and cfg.model.hidden_units == (32,)


def test_pretraining_checkpoints_resumes_and_exports(pretrained):
  cfg, first, again = pretrained
  assert (first.start_step, first.final_step) == (0, 4)
  assert [s for s, _ in first.losses] == [1, 2, 3, 4]
  assert all(np.isfinite(l) and l > 0 for _, l in first.losses)
  assert (again.start_step, again.final_step) == (4, 6)
  names = {os.path.basename(p)
           for p in glob.glob(os.path.join(cfg.runtime.model_dir, "checkpoints", "*"))}
  assert {"ckpt-4.index", "ckpt-6.index"} <= names
  assert os.path.isdir(os.path.join(cfg.runtime.model_dir, "train"))
  # The export takes whole videos of any length with their frame mask.
  rng = np.random.default_rng(0)
  x = {n: rng.normal(size=(3, 5, d)).astype(np.float32) for n, d in MODS}
  x[MASK_KEY] = np.array([[1, 1, 1, 0, 0]] * 3, bool)
  np.testing.assert_allclose(load_embedder(again.export_dir)(x).numpy(),
                             again.model(x).numpy(), atol=1e-5)


def test_frames_preflight_is_one_line(frames, tmp_path):
  bad = write_shards(str(tmp_path), "labels", [tf_example.encode(
      {"id": "v0", "label": [0], "rgb": np.zeros(16, np.float32)})])
  with pytest.raises(ConfigError, match=r"labels-.*feature list rgb has no frames"):
    cfg, _ = config_from_argv(["--mode=temporal_contrastive", f"--train_data={bad}",
                               f"--model_dir={tmp_path}/m", "--modalities=rgb:16,audio:4"])
    trainer.train(cfg)
  with pytest.raises(ConfigError, match=r"frames of rgb have 16 values"):
    cfg, _ = config_from_argv(["--mode=temporal_contrastive", f"--train_data={frames}",
                               f"--model_dir={tmp_path}/m", "--modalities=rgb:8,audio:4"])
    trainer.train(cfg)


def test_temporal_flags_are_checked(frames, tmp_path):
  common = ["--mode=temporal_contrastive", f"--train_data={frames}", f"--model_dir={tmp_path}/m"]
  with pytest.raises(ConfigError, match=r"--frame_dropout must be in \[0, 1\), got 1.0"):
    config_from_argv(common + ["--frame_dropout=1"])
  with pytest.raises(ConfigError, match=r"--clip_len must be a positive int, got 0"):
    config_from_argv(common + ["--clip_len=0"])
  cfg, _ = config_from_argv(common + [f"--validation_data={tmp_path}"])
  with pytest.raises(ConfigError, match=r"--validation_data scores video-level items"):
    trainer.train(cfg)


@pytest.mark.slow
def test_the_loss_is_over_the_global_batch_under_mirrored(frames, tmp_path):
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  proc = subprocess.run([sys.executable, str(CHECK), frames, str(tmp_path / "m")],
                        capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  # The first step's loss is the one-device loss of the 16 gathered videos, not the
  # mean of the two replicas' 8-video losses (fewer negatives, a lower loss).
  assert out["losses"][0] == pytest.approx(out["global_loss"], rel=1e-5)
  assert abs(out["local_mean"] - out["global_loss"]) > 0.05
  assert len(out["losses"]) == 3 and out["exported"]


def _triplets(n, rng):
  return [tf_example.encode({"level": [0], **{
      f"{role}/{k}": v for role in ("anchor", "positive", "negative")
      for k, v in [("id", f"v{i}-{role}")] + [(m, rng.normal(size=d).astype(np.float32))
                                               for m, d in MODS]}}) for i in range(n)]


def _fine_tune_config(tmp_path, init_from, *extra):
  data = write_shards(str(tmp_path), "triplets", _triplets(32, np.random.default_rng(1)))
  cfg, _ = config_from_argv(["--mode=triplet", f"--train_data={data}", "--batch_size=16",
                             f"--model_dir={tmp_path}/fine", f"--init_from={init_from}",
                             "--train_steps=2", *NETWORK, *extra])
  return cfg


@pytest.mark.parametrize("where,names", [("model_dir", "rgb,audio"), ("export", "rgb,audio"),
                                         ("export", "mean_rgb,mean_audio")])
def test_init_from_loads_the_pretrained_video_network(pretrained, tmp_path, where, names):
  # Frame-level `rgb` is video-level `mean_rgb` (YouTube-8M's names).
  pre_cfg, _, again = pretrained
  source = pre_cfg.runtime.model_dir if where == "model_dir" else again.export_dir
  rgb, audio = names.split(",")
  cfg = _fine_tune_config(tmp_path, source, f"--modalities={rgb}:16,{audio}:4")
  objs = train_objects.TrainObjects(cfg, make_strategy("default"))
  assert objs.restore() == 0 and not objs.restored
  # The rgb tower's first kernel is the pre-trained one (step 6), read from the checkpoint.
  reader = tf.train.load_checkpoint(
      os.path.join(pre_cfg.runtime.model_dir, "checkpoints", "ckpt-6"))
  want = reader.get_tensor("model/video_model/towers/0/0/kernel" + VALUE_SUFFIX)
  kernel = [v for v in objs.model.variables if f"/{rgb}_tower_hidden_0/kernel" in v.name][0]
  np.testing.assert_array_equal(kernel.numpy(), want)
  for mine, theirs in zip(objs.model.variables, again.model.video_model.variables):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_fine_tuning_trains_from_the_pretrained_network(pretrained, tmp_path):
  cfg = _fine_tune_config(tmp_path, pretrained[0].runtime.model_dir)
  result = trainer.train(cfg)
  assert (result.start_step, result.final_step) == (0, 2)
  assert all(np.isfinite(l) for _, l in result.losses)


def test_init_from_mismatch_is_one_line_naming_the_variable(pretrained, tmp_path):
  source = pretrained[0].runtime.model_dir
  cfg = _fine_tune_config(tmp_path, source, "--hidden_units=24")
  with pytest.raises(ConfigError, match=r"variable rgb_tower_hidden_0/kernel \(model/video_model/"
                                        r"towers/0/0/kernel\) has shape \[16, 32\] there, the "
                                        r"model needs \[16, 24\]"):
    train_objects.TrainObjects(cfg, make_strategy("default")).restore()
  cfg = _fine_tune_config(tmp_path, os.path.join(source, "checkpoints", "ckpt-6"),
                          "--modalities=rgb:16")
  with pytest.raises(ConfigError, match=r"has variable model/video_model/towers/1/0/bias that "
                                        "the model lacks"):
    train_objects.TrainObjects(cfg, make_strategy("default")).restore()
  cfg = _fine_tune_config(tmp_path, source, "--modalities=rgb:16")
  with pytest.raises(ConfigError, match=r"trained on modalities rgb:16,audio:4, the model has "
                                        "rgb:16"):
    train_objects.TrainObjects(cfg, make_strategy("default")).restore()
  with pytest.raises(ConfigError, match=r"--init_from: no directory or checkpoint"):
    _fine_tune_config(tmp_path, str(tmp_path / "nowhere"))


def test_pull_to_init_pulls_towards_the_weights_loaded_by_init_from(pretrained, tmp_path):
  # W0 of --pull_to_init is recorded after --init_from loads its weights, and a source run's
  # own W0 copies are not weights: a run with the pull starts from another run with the pull.
  os.makedirs(tmp_path / "a"), os.makedirs(tmp_path / "b")
  first = _fine_tune_config(tmp_path / "a", pretrained[0].runtime.model_dir, "--pull_to_init=0.01")
  trainer.train(first)
  cfg = _fine_tune_config(tmp_path / "b", first.runtime.model_dir, "--pull_to_init=0.01")
  objs = train_objects.TrainObjects(cfg, make_strategy("default"))
  assert objs.restore() == 0 and not objs.restored
  reader = tf.train.load_checkpoint(
      tf.train.latest_checkpoint(os.path.join(first.runtime.model_dir, "checkpoints")))
  pretrained_reader = tf.train.load_checkpoint(
      os.path.join(pretrained[0].runtime.model_dir, "checkpoints", "ckpt-6"))
  want = reader.get_tensor("model/towers/0/0/kernel" + VALUE_SUFFIX)
  kernel = [v for v in objs.model.variables if "/rgb_tower_hidden_0/kernel" in v.name][0]
  np.testing.assert_array_equal(kernel.numpy(), want)  # the fine-tuned run's, not step 6's
  assert not np.array_equal(want, pretrained_reader.get_tensor(
      "model/video_model/towers/0/0/kernel" + VALUE_SUFFIX))
  kernels = objs.network.kernels()
  assert len(objs.network.init_kernels) == len(kernels) > 0
  for w0, w in zip(objs.network.init_kernels, kernels):
    np.testing.assert_array_equal(w0.numpy(), w.numpy())
