"""Logging for the command line: one readable line per event, Beam kept quiet."""

import logging
import os

from launch.faults import file_fault


def setup(level: int = logging.INFO) -> None:
  """One readable line per event; Beam, absl, TensorFlow and plotting kept at warnings.

  Args:
    level: the root logger's level.
  """
  logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s",
                      datefmt="%H:%M:%S", force=True)
  for noisy in ("apache_beam", "absl", "tensorflow", "h5py", "matplotlib"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  root = logging.getLogger()
  if not any(isinstance(f, _DropKnownNoise) for f in root.filters):
    root.addFilter(_DropKnownNoise())
    for handler in root.handlers:
      handler.addFilter(_DropKnownNoise())


class _DropKnownNoise(logging.Filter):
  """Drops known harmless warnings that would bury the real ones, and Beam's
  traceback of a file-system fault that `gcml` reports in one line."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.name.startswith("apache_beam") and record.exc_info and \
        file_fault(record.exc_info[1]) is not None:
      return False  # a worker's file-system fault: gcml reports it in one line
    message = record.getMessage()
    return not any(noise in message for noise in _NOISE)


_NOISE = (
    "apitools not found",  # Beam without the optional GCP client libraries
    "Resource module is not available",  # RunInference's memory probe
)
