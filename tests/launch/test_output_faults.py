"""Output-directory faults of train, export and evaluate are one line (exit 2).

A path under a file (in process); a file size limit (RLIMIT_FSIZE, EFBIG) in a
subprocess; a full and a read-only file system (a tiny tmpfs mounted in a
private user and mount namespace by `unshare -rm`; skipped where that is not
allowed).
"""

import glob
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from launch import main as gcml
from model.config import EmbeddingModelConfig, ModalityConfig
from model.export import export_saved_model
from model.towers import EmbeddingModel
from pipelines.io import sharded_io, tf_example
from tests.pipelines import files
from tests.model.shards import write_shards
from tests.model.training_records import triplet_records

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODS = "mean_rgb:8,mean_audio:4"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("faults"))
  assert gcml.main(["synth", f"--output_dir={root}/w", "--num_items=200",
                    f"--modalities={MODS}"]) == 0
  tf.keras.utils.set_random_seed(0)
  export_saved_model(EmbeddingModel(EmbeddingModelConfig.demo(
      modalities=(ModalityConfig("mean_rgb", 8), ModalityConfig("mean_audio", 4)),
      hidden_units=(16,), embedding_dim=8)), f"{root}/model")
  rng = np.random.default_rng(0)
  ids = [tf_example.parse(r)["id"][0].decode()
         for r in files.read_tfrecords(sorted(glob.glob(f"{root}/w/features-*.tfrecord")))]
  sharded_io.write_sorted_shards_local(
      [(i, tf_example.encode({"id": i, "embedding": rng.normal(size=6).astype(np.float32)}))
       for i in ids], f"{root}/e/embeddings", ".tfrecord", 1, sharded_io.TFRECORD)
  write_shards(f"{root}/t", "t", triplet_records(64, np.random.default_rng(0)))
  return root


def _argv(command, root, out):
  if command == "train":
    return ["train", f"--train_data={root}/t/t-*", f"--model_dir={out}", f"--modalities={MODS}",
            "--hidden_units=256", "--embedding_dim=64", "--batch_size=16", "--train_steps=4",
            "--checkpoint_every=2"]
  if command == "export":
    return ["export", f"--model_dir={root}/model", f"--features={root}/w/features-*.tfrecord",
            f"--output_dir={out}", "--runner=FnApiRunner"]
  return ["evaluate", f"--embeddings={root}/e/embeddings-*", f"--edges={root}/w/edges-*.csv",
          f"--features={root}/w/features-*.tfrecord", f"--modalities={MODS}",
          f"--output_dir={out}"]


COMMANDS = ("train", "export", "evaluate")


@pytest.mark.parametrize("command", COMMANDS)
def test_output_under_a_file(world, tmp_path, capsys, command):
  (tmp_path / "afile").write_text("x")
  code = gcml.main(_argv(command, world, f"{tmp_path}/afile/out"))
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2
  assert err[-1].startswith(f"gcml {command}: error: "), err[-3:]
  assert "Not a directory" in err[-1] or "not a directory" in err[-1]
  assert "Traceback" not in "\n".join(err)


def _run(argv, prefix=(), preexec_fn=None):
  proc = subprocess.run([*prefix, sys.executable, "-m", f"launch.{argv[0]}", *argv[1:]],
                        cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                        text=True, timeout=600, preexec_fn=preexec_fn)
  lines = [l for l in proc.stderr.splitlines() if l.startswith("gcml ")]
  return proc.returncode, proc.stderr, lines


def _file_size_limit():
  signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failing write, not a killed process
  resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))


@pytest.mark.parametrize("command", COMMANDS)
def test_file_size_limit_is_one_line(world, tmp_path, command):
  code, stderr, lines = _run(_argv(command, world, f"{tmp_path}/out"),
                             preexec_fn=_file_size_limit)
  assert code == 2, stderr[-3000:]
  assert lines and lines[-1].startswith(f"gcml {command}: error: "), stderr[-3000:]
  assert "File too large" in lines[-1]
  assert "Traceback" not in stderr


def _namespaces_work():
  if not shutil.which("unshare"):
    return False
  probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                         capture_output=True, check=False)
  return probe.returncode == 0


@pytest.mark.skipif(not _namespaces_work(), reason="no user+mount namespaces (unshare -rm)")
@pytest.mark.parametrize("mount,message", [("size=8k", "No space left on device"),
                                           ("ro", "Read-only file system")])
@pytest.mark.parametrize("command", COMMANDS)
def test_full_or_read_only_file_system_is_one_line(world, tmp_path, command, mount, message):
  fs = tmp_path / "fs"
  fs.mkdir()
  shell = f'mount -t tmpfs -o {mount} tmpfs {fs} && exec "$@"'
  code, stderr, lines = _run(_argv(command, world, f"{fs}/out"),
                             prefix=("unshare", "-rm", "sh", "-c", shell, "sh"))
  assert code == 2, stderr[-3000:]
  assert lines and lines[-1].startswith(f"gcml {command}: error: "), stderr[-3000:]
  assert message in lines[-1]
  assert "Traceback" not in stderr
