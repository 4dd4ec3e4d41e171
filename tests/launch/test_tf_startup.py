"""`launch/tf_startup.py`: TensorFlow's native start-up lines go to the log, other lines stay."""

import logging
import os
import re
import subprocess
import sys

from launch import tf_startup

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
