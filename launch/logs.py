"""Logging for the command line: one readable line per event, Beam kept quiet."""

import logging
import os


def setup(level: int = logging.INFO) -> None:
  logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s",
                      datefmt="%H:%M:%S", force=True)
  for noisy in ("apache_beam", "absl", "tensorflow", "h5py", "matplotlib"):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
