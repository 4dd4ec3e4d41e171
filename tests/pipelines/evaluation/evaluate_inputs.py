"""Inputs of `gcml evaluate` for the evaluation tests: embedding files and the command's flags.

The synthetic world they point at is the `world` fixture (`conftest.py` here).
"""

import os

import numpy as np

from pipelines.io import sharded_io, tf_example

MODS = "mean_rgb:16,mean_audio:4"  # the world's modalities (`--modalities`)


def write_embeddings(root, name, vectors):
  """Writes embeddings as `gcml export` does: `root/name/embeddings-*.tfrecord`, 2 shards.

  Args:
    root: the folder to write under.
    name: the subfolder (one per set of embeddings).
    vectors: item id -> embedding vector.

  Returns:
    The embedding files' glob.
  """
  prefix = os.path.join(root, name, "embeddings")
  sharded_io.write_sorted_shards_local(
      [(i, tf_example.encode({"id": i, "embedding": v.astype(np.float32)}))
       for i, v in vectors.items()], prefix, ".tfrecord", 2, sharded_io.TFRECORD)
  return prefix + "-*.tfrecord"


def evaluate_args(root, emb_glob, out):
  """`gcml evaluate`'s flags for embeddings `emb_glob` of the world at `root`, into `out`."""
  return [f"--embeddings={emb_glob}", f"--edges={root}/w/edges-*.csv",
          f"--features={root}/w/features-*.tfrecord", f"--output_dir={out}",
          f"--modalities={MODS}", "--query_block=7"]
