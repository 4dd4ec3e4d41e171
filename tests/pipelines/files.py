"""Small input files for pipeline tests."""

import os

import numpy as np

from pipelines.io import sharded_io, tf_example
from pipelines.io import tfrecord_frames


def write_text(path: str, lines: list[str]) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join(line + "\n" for line in lines))
  return path


def write_tfrecord(path: str, records: list[bytes]) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    for r in records:
      f.write(tfrecord_frames.tfrecord_frame(r))
  return path


def write_damaged_tfrecord(path: str, records: list[bytes], bad_checksum: int) -> int:
  """Writes `records` with record `bad_checksum`'s data damaged, then half a frame.

  Returns the byte offset of the damaged record.
  """
  frames = [bytearray(tfrecord_frames.tfrecord_frame(r)) for r in records]
  frames[bad_checksum][14] ^= 0xFF  # a data byte: the length stays valid
  offset = sum(len(f) for f in frames[:bad_checksum])
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(b"".join(frames) + tfrecord_frames.tfrecord_frame(b"cut short")[:20])
  return offset


def item_record(item_id: str, rgb_dim: int = 4, audio_dim: int = 2, value: float = 0.5,
                labels=(1, 2), **overrides) -> bytes:
  record = {"id": item_id, "mean_rgb": np.full(rgb_dim, value, np.float32),
            "mean_audio": np.full(audio_dim, value, np.float32), "labels": list(labels)}
  record.update(overrides)
  return tf_example.encode({k: v for k, v in record.items() if v is not None})


def read_shards(pattern_prefix: str, suffix: str) -> list[str]:
  """Lines of all shards of an output (without headers)."""
  import glob
  lines = []
  for path in sorted(glob.glob(sharded_io.shard_glob(pattern_prefix, suffix))):
    with open(path, encoding="utf-8") as f:
      lines.extend(f.read().splitlines())
  return lines


def read_tfrecords(paths):
  """Yields the records of TFRecord files (via TensorFlow, to check our framing)."""
  import tensorflow as tf
  for record in tf.data.TFRecordDataset(paths):
    yield record.numpy()
