"""Frame-level items (SequenceExamples) for the frame reader tests."""

import numpy as np

from pipelines.io import frame_features as ff

MODS = (ff.Modality("rgb", 4), ff.Modality("audio", 2))  # the frame modalities read


def frame_arrays(n=3, rgb=4, audio=2, value=0.5):
  """One item's frames: n frames of `rgb` and `audio` values, each equal to `value`."""
  return {"rgb": np.full((n, rgb), value, np.float32), "audio": np.full((n, audio), value,
                                                                         np.float32)}


def float_frame_record(item_id, frames, labels=()):
  """An item's SequenceExample with float (not quantized) frames."""
  return ff.encode(item_id, frames, labels, quantized=False)
