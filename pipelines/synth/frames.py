"""Frame-level features of a synthetic world (`gcml synth --frames`).

Each item gets between `min_frames` and `max_frames` frames per modality (the
same count for every modality, as in YouTube-8M). Frame t of modality m is the
item's video-level vector plus a drift that moves slowly over time: an AR(1)
walk d_t = rho * d_(t-1) + sqrt(1 - rho^2) * e_t (stationary, rho =
`FRAME_RHO`), scaled by `frame_drift` times the vector's spread. Nearby frames
are therefore more alike than distant ones, which is what a temporal
contrastive method exploits, and the average of the frames stays near the
video-level vector.

Frames are quantised as YouTube-8M's are (`pipelines.io.frame_features`): the
values are first divided by a per-modality scale that maps 3 standard
deviations of the shard's video-level values onto the range end 2, so the
clipped share is small. Modality `mean_rgb` is written as `rgb`, `mean_audio`
as `audio` (YouTube-8M's frame-level names); other names are kept.

Draws come from their own generator per shard ([seed, 5, shard]), so turning
frames on leaves the other files' bytes unchanged.
"""

import os

import numpy as np

from pipelines.io import sharded_io
from pipelines.io import frame_features

FRAME_RHO = 0.9


def frame_name(modality: str) -> str:
  """The frame-level name of a video-level modality (`mean_rgb` -> `rgb`).

  Args:
    modality: a video-level modality name.

  Returns:
    The frame-level name.
  """
  return modality[len("mean_"):] if modality.startswith("mean_") else modality


def frames_for_shard(config, shard: int, vectors: dict) -> list:
  """The frames of one shard's items.

  Args:
    config: the SynthConfig.
    shard: the shard number (seeds the draws).
    vectors: modality -> [k, dim] float32 video-level vectors of the shard.

  Returns:
    One dict per item: frame-level modality name -> uint8 array [n, dim].
  """
  rng = np.random.default_rng([config.seed, 5, shard])
  k = len(next(iter(vectors.values())))
  counts = rng.integers(config.min_frames, config.max_frames + 1, k)
  out = [{} for _ in range(k)]
  for name, v in vectors.items():
    scale = 2.0 / (3.0 * float(np.std(v)) + 1e-6)
    spread = config.frame_drift * v.std(axis=1, keepdims=True)
    for i in range(k):
      e = rng.normal(0, 1, (counts[i], v.shape[1]))
      d = np.empty_like(e)
      d[0] = e[0]
      for t in range(1, counts[i]):
        d[t] = FRAME_RHO * d[t - 1] + np.sqrt(1 - FRAME_RHO ** 2) * e[t]
      out[i][frame_name(name)] = frame_features.quantize((v[i] + spread[i] * d) * scale)
  return out


def write_frames_shard(config, output_dir: str, shard: int, ids: list, vectors: dict,
                       labels: list) -> int:
  """Writes `frames-<shard>-of-<n>.tfrecord` atomically; returns the frames written.

  Args:
    config: the SynthConfig.
    output_dir: the world's directory.
    shard: the shard number.
    ids: the shard's item ids.
    vectors: modality -> [k, dim] video-level vectors of the shard.
    labels: the items' labels.

  Returns:
    The number of frames written (per modality).
  """
  frames = frames_for_shard(config, shard, vectors)
  out = bytearray()
  for item_id, item_frames, item_labels in zip(ids, frames, labels):
    out += sharded_io.tfrecord_frame(frame_features.encode(item_id, item_frames, item_labels))
  path = sharded_io.shard_path(os.path.join(output_dir, "frames"), shard, config.num_shards,
                               ".tfrecord")
  sharded_io.atomic_write(path, bytes(out))
  return int(sum(len(next(iter(f.values()))) for f in frames))
