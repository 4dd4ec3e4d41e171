"""Damaged checkpoints fall back to the newest valid one; export swaps in atomically."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from launch import main as gcml
from model import checkpoints
from model.errors import ConfigError
from tests.model.shards import write_shards
from tests.model.training_records import triplet_records

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NET = ["--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=16", "--embedding_dim=8",
       "--batch_size=16", "--checkpoint_every=2", "--max_checkpoints=5"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
  root = tmp_path_factory.mktemp("ckpt_data")
  return write_shards(str(root), "t", triplet_records(64, np.random.default_rng(0)))


def _train(data, model_dir, steps, capsys):
  code = gcml.main(["train", f"--train_data={data}", f"--model_dir={model_dir}",
                    f"--train_steps={steps}", *NET])
  return code, capsys.readouterr()


def _ckpt(model_dir, step):
  return os.path.join(model_dir, "checkpoints", f"ckpt-{step}")


@pytest.mark.parametrize("damage", ["truncated_data", "garbage_index", "state_names_missing"])
def test_resume_falls_back_to_the_newest_valid_checkpoint(data, tmp_path, capsys, damage):
  model_dir = str(tmp_path / "m")
  assert _train(data, model_dir, 4, capsys)[0] == 0
  if damage == "truncated_data":
    path = _ckpt(model_dir, 4) + ".data-00000-of-00001"
    with open(path, "rb") as f:
      head = f.read(100)
    with open(path, "wb") as f:
      f.write(head)
  elif damage == "garbage_index":
    with open(_ckpt(model_dir, 4) + ".index", "wb") as f:
      f.write(b"not an sstable" * 10)
  else:  # the `checkpoint` file names ckpt-4, whose files are gone
    for path in tf.io.gfile.glob(_ckpt(model_dir, 4) + ".*"):
      os.remove(path)
  code, out = _train(data, model_dir, 6, capsys)
  assert code == 0, out.err[-2000:]
  assert "trained steps 2..6" in out.err  # resumed from ckpt-2, not from step 0
  warnings = [l for l in out.err.splitlines() if " WARNING " in l and "ckpt-4" in l]
  assert len(warnings) == 1 and "cannot be restored" in warnings[0]


def test_no_restorable_checkpoint_is_one_line_not_step_0(data, tmp_path, capsys):
  model_dir = str(tmp_path / "m")
  assert _train(data, model_dir, 2, capsys)[0] == 0
  with open(_ckpt(model_dir, 2) + ".index", "wb") as f:
    f.write(b"garbage")
  code, out = _train(data, model_dir, 4, capsys)
  assert code == 2
  assert out.err.strip().splitlines()[-1].startswith("gcml train: error: ")
  assert "none of the checkpoints ckpt-2 can be restored" in out.err


def test_restore_newest_valid_unit(tmp_path):
  v = tf.Variable(0)
  ckpt = tf.train.Checkpoint(v=v)
  manager = tf.train.CheckpointManager(ckpt, str(tmp_path), max_to_keep=5)
  assert checkpoints.restore_newest_valid(ckpt, str(tmp_path)) is None  # empty: step 0
  for step in (1, 2, 3):
    v.assign(step)
    manager.save(checkpoint_number=step)
  os.remove(str(tmp_path / "ckpt-3.index"))
  v.assign(0)
  assert checkpoints.restore_newest_valid(ckpt, str(tmp_path)).endswith("ckpt-2")
  assert int(v.numpy()) == 2
  with open(tmp_path / "checkpoint", "w") as f:
    f.write("garbage {{{")
  assert checkpoints.restore_newest_valid(ckpt, str(tmp_path)).endswith("ckpt-2")
  other = tf.train.Checkpoint(v=tf.Variable([1.0, 2.0]))  # another network: no fall back
  with pytest.raises(ConfigError, match="none of the checkpoints"):
    checkpoints.restore_newest_valid(other, str(tmp_path))


_KILLED_EXPORT = """
import os, signal, sys
import model
import tensorflow as tf
from model import checkpoints

def save(tmp):
  tf.saved_model.save(tf.Module(), tmp)
  os.kill(os.getpid(), signal.SIGKILL)  # killed while exporting

checkpoints.atomic_export(save, sys.argv[1])
"""


def test_kill_during_export_leaves_the_previous_export(tmp_path):
  path = str(tmp_path / "export")
  module = tf.Module()
  module.v = tf.Variable(1.0)
  checkpoints.atomic_export(lambda tmp: tf.saved_model.save(module, tmp), path)
  before = sorted(os.listdir(path))
  proc = subprocess.run([sys.executable, "-c", _KILLED_EXPORT, path], cwd=ROOT,
                        env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, timeout=300)
  assert proc.returncode == -9, proc.stderr[-2000:]
  assert sorted(os.listdir(path)) == before
  assert float(tf.saved_model.load(path).v.numpy()) == 1.0
  assert [n for n in os.listdir(tmp_path) if n.startswith("export.tmp-")]  # the killed one's
  module.v.assign(2.0)
  checkpoints.atomic_export(lambda tmp: tf.saved_model.save(module, tmp), path)
  assert sorted(os.listdir(tmp_path)) == ["export"]  # temporaries cleared
  assert float(tf.saved_model.load(path).v.numpy()) == 2.0


def test_export_renamed_aside_by_a_killed_swap_is_put_back(tmp_path):
  path = str(tmp_path / "export")
  module = tf.Module()
  module.v = tf.Variable(3.0)
  tf.saved_model.save(module, str(tmp_path / "export.old-abc"))  # killed between the renames
  checkpoints.recover_export(path)
  assert sorted(os.listdir(tmp_path)) == ["export"]
  assert float(tf.saved_model.load(path).v.numpy()) == 3.0
