"""`launch/tf_startup.py`: TensorFlow's native start-up lines go to the log, other lines stay;
autograph's generated files go to a folder of the process, removed at its exit or, after a
kill, by the next start-up."""

import fcntl
import logging
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from launch import tf_startup
from tests.model.shards import write_shards
from tests.model.training_records import triplet_records

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What TensorFlow's native code prints: absl's banner and `I0000 00:00:... file.cc:31] ...`.
NATIVE = re.compile(r"^([IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\]|WARNING: All log messages before)")

BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
INFO = ("I0000 00:00:1796131829.670467   26546 cudart_stub.cc:31] Could not find cuda drivers on "
        "your machine, GPU will not be used.")
NO_GPU = ("E0000 00:00:1796131840.935899   26546 cuda_platform.cc:52] failed call to cuInit: "
          "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)")
GUARD = ("To enable the following instructions: AVX2 FMA, in other operations, rebuild "
         "TensorFlow with the appropriate compiler flags.")
REAL_ERROR = ("E0000 00:00:1796131840.935899   26546 op_kernel.cc:1830] OP_REQUIRES failed at "
              "save_restore_v2_ops.cc:51 : PERMISSION_DENIED")


def test_known_start_up_lines_and_the_rest():
  for line in (BANNER, INFO, NO_GPU, GUARD):
    assert tf_startup.is_start_up_line(line), line
  for line in (REAL_ERROR, "Traceback (most recent call last):", "", "I0000 not native"):
    assert not tf_startup.is_start_up_line(line), line


def test_start_up_lines_go_to_the_log_and_others_back_to_stderr(caplog, capsys):
  with caplog.at_level(logging.DEBUG):
    tf_startup._sort_out(f"{BANNER}\n{INFO}\n{REAL_ERROR}\n{GUARD}\nplain text\n")  # pylint: disable=protected-access
  assert capsys.readouterr().err == f"{REAL_ERROR}\nplain text\n"
  assert [r.getMessage() for r in caplog.records] == [
      f"TensorFlow start-up: {line}" for line in (BANNER, INFO, GUARD)]


def test_a_fresh_process_imports_tensorflow_without_native_lines_on_stderr():
  code = ("from launch import tf_startup\n"
          "assert tf_startup.install() and not tf_startup.install()\n"
          "import tensorflow as tf\n"
          "assert not tf_startup.install()\n"
          "print(int(tf.constant(3) * 2))\n")
  env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
  done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                        env={**env, "PYTHONPATH": ROOT}, timeout=300, check=False)
  assert (done.returncode, done.stdout) == (0, "6\n"), done.stderr
  assert [line for line in done.stderr.splitlines() if NATIVE.match(line)] == []


def test_autograph_writes_its_files_in_this_process_folder():
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  folder = tf_startup.private_autograph_folder()  # conftest installed it for the test process
  assert os.path.dirname(folder) == tempfile.gettempdir()
  assert os.path.basename(folder).startswith(tf_startup.AUTOGRAPH_PREFIX)
  before = set(os.listdir(folder))

  @tf.function(autograph=True)
  def doubled_if_positive(x):
    if x > 0:
      x *= 2
    return x

  assert int(doubled_if_positive(tf.constant(3))) == 6
  written = set(os.listdir(folder)) - before
  assert written and all(n.startswith("__autograph_generated_file") for n in written), written


def _left_by_killed_and_live(temp_root):
  """A killed process's folder (a file, no lock) and a live one's (locked by this process)."""
  killed = os.path.join(temp_root, tf_startup.AUTOGRAPH_PREFIX + "killed")
  live = os.path.join(temp_root, tf_startup.AUTOGRAPH_PREFIX + "live")
  for folder in (killed, live):
    os.makedirs(folder)
    with open(os.path.join(folder, "__autograph_generated_filex.py"), "w", encoding="utf-8"):
      pass
  held = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
  fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
  return killed, held


def test_the_folders_of_killed_processes_are_removed_live_ones_kept(tmp_path):
  killed, held = _left_by_killed_and_live(str(tmp_path))
  (tmp_path / (tf_startup.AUTOGRAPH_PREFIX + "file")).write_text("not a folder")
  try:
    assert tf_startup.remove_left_autograph_folders(str(tmp_path)) == [killed]
  finally:
    os.close(held)
  assert sorted(os.listdir(tmp_path)) == [tf_startup.AUTOGRAPH_PREFIX + n for n in ("file", "live")]


@pytest.mark.slow
def test_gcml_train_leaves_nothing_in_the_temp_folder(tmp_path):
  data = write_shards(str(tmp_path / "data"), "t", triplet_records(64, np.random.default_rng(1)))
  temp_root = tmp_path / "tmp"
  temp_root.mkdir()
  _, held = _left_by_killed_and_live(str(temp_root))
  try:
    done = subprocess.run(
        [sys.executable, "-m", "launch.main", "train", "--mode=triplet", f"--train_data={data}",
         f"--model_dir={tmp_path / 'model'}", "--train_steps=2", "--batch_size=16",
         "--shuffle_buffer=16", "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=8",
         "--embedding_dim=4"], cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": ROOT, "TMPDIR": str(temp_root)}, check=False)
  finally:
    os.close(held)
  assert done.returncode == 0, done.stderr[-3000:]
  assert os.path.isdir(tmp_path / "model" / "export")
  assert os.listdir(temp_root) == [tf_startup.AUTOGRAPH_PREFIX + "live"]  # the killed one's gone
