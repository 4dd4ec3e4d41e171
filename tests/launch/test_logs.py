"""`launch/logs.py`: one line per event, Beam and TensorFlow at warnings, known noise dropped."""

import errno
import logging
import os
import sys

import pytest

from launch import logs

NOISY = ("apache_beam", "absl", "tensorflow", "h5py", "matplotlib")


@pytest.fixture(name="root", autouse=True)
def fixture_root(monkeypatch):
  """The root logger, put back as it was after each test."""
  root = logging.getLogger()
  saved = (root.level, list(root.handlers), list(root.filters),
           {name: logging.getLogger(name).level for name in NOISY})
  monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
  yield root
  root.setLevel(saved[0])
  root.handlers[:], root.filters[:] = saved[1], saved[2]
  for name, level in saved[3].items():
    logging.getLogger(name).setLevel(level)


def _record(name, message, exc_info=None):
  return logging.LogRecord(name, logging.WARNING, __file__, 1, message, None, exc_info)


def test_setup_sets_levels_and_quiets_tensorflow(root):
  logs.setup(logging.DEBUG)
  assert root.level == logging.DEBUG
  assert [logging.getLogger(name).level for name in NOISY] == [logging.WARNING] * 5
  assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"


def test_the_noise_filter_is_added_once(root):
  logs.setup()
  logs.setup()
  assert sum(isinstance(f, logs._DropKnownNoise) for f in root.filters) == 1  # pylint: disable=protected-access


def test_known_noise_is_dropped_and_the_rest_kept(root):
  logs.setup()
  assert not root.filter(_record("apache_beam.io", "apitools not found; skipping GCS"))
  assert not root.filter(_record("x", "Resource module is not available for memory"))
  assert root.filter(_record("x", "step 3 loss 0.5"))


def test_a_beam_traceback_of_a_file_fault_is_dropped(root):
  logs.setup()
  try:
    raise OSError(errno.ENOSPC, "No space left on device", "/out/f")
  except OSError:
    fault = sys.exc_info()
  try:
    raise ValueError("a bug")
  except ValueError:
    bug = sys.exc_info()
  assert not root.filter(_record("apache_beam.runners.worker", "failed", fault))
  assert root.filter(_record("apache_beam.runners.worker", "failed", bug))
  assert root.filter(_record("pipelines.io", "failed", fault))  # not Beam's: kept
