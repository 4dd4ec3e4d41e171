"""Helpers shared by the export tests (a module of helpers, not tests).

Moved here from the test files that defined them (`test_local.py`: `BEAM`;
`test_stage.py`: `write_non_finite_world`; `test_related_ann.py`: `clustered`, `ann_index`,
`write_related`, `same_files`) so that no test file imports another. A folder's files as
bytes: `tests.pipelines.examples.worlds.output_bytes`.
"""

import filecmp
import os

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.export import related_ann
from pipelines.export import related_items_beam
from pipelines.io import related_rows, sharded_io, tf_example
from pipelines.io import sharded_io_beam
from tests.pipelines import files

BEAM = {1: ["--runner=FnApiRunner"],
        2: ["--runner=FnApiRunner", "--direct_num_workers=2",
            "--direct_running_mode=multi_processing"]}


class _DividesByFirst(tf.Module):
  """A model whose embedding is NaN/inf for an item whose mean_rgb[0] is 0."""

  @tf.function(input_signature=[{"mean_rgb": tf.TensorSpec([None, 8], tf.float32, "mean_rgb"),
                                 "mean_audio": tf.TensorSpec([None, 4], tf.float32, "mean_audio")}])
  def serve(self, features):
    x = tf.concat([features["mean_rgb"], features["mean_audio"]], axis=1)
    return {"embedding": x / x[:, :1]}


def write_non_finite_world(root) -> None:
  """`root/model`: a `_DividesByFirst` SavedModel; `root/in/f-0.tfrecord`: 12 items,
  v03 and v07 with finite features whose embedding is not finite."""
  module = _DividesByFirst()
  tf.saved_model.save(module, str(root / "model"),
                      signatures={"serving_default": module.serve})
  rng = np.random.default_rng(2)
  records = []
  for j in range(12):
    rgb = rng.normal(size=8).astype(np.float32)
    if j in (3, 7):
      rgb[0] = 0.0  # finite features, non-finite embedding
    records.append(tf_example.encode({"id": f"v{j:02d}", "mean_rgb": rgb,
                                      "mean_audio": rng.normal(size=4).astype(np.float32)}))
  files.write_tfrecord(str(root / "in" / "f-0.tfrecord"), records)


def clustered(n: int, dim: int, clusters: int, seed: int = 0):
  """n ids and float32 vectors [n, dim] around `clusters` random centres."""
  rng = np.random.default_rng(seed)
  centers = rng.normal(size=(clusters, dim)).astype(np.float32)
  x = centers[rng.integers(0, clusters, n)] + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
  return [f"i{j:06d}" for j in range(n)], x


def ann_index(ids, x, params=related_ann.AnnParams()):
  """The ANN index of (ids, x) trained as the export stage trains it, and its faiss index."""
  pairs = list(zip(ids, x))
  sample = sorted(pairs, key=lambda kv: related_ann.sample_key(kv[0]))[:params.train_size]
  trained = related_ann.train_index(sample, len(ids), params)
  faiss = related_ann.configure_faiss()
  codes = faiss.deserialize_index(trained).sa_encode(related_ann.unit_rows(x))
  ann = related_ann.build_index([(i, c.tobytes()) for i, c in zip(ids, codes)], trained)
  return ann, faiss.deserialize_index(ann.blob)


def write_related(prefix, pairs, extra=(), **kwargs):
  """Runs `RelatedItems` (IVF-PQ unless `search=`, k=5) on `pairs` on Beam; writes `prefix`-*.tsv (2 shards)."""
  options = PipelineOptions(["--runner=FnApiRunner", *extra] if not extra else list(extra))
  with TestPipeline(options=options) as p:
    _ = (p | beam.Create(pairs)
         | related_items_beam.RelatedItems(k=5, query_batch=37, **{"search": "ivfpq", **kwargs})
         | sharded_io_beam.WriteSortedShards(prefix, ".tsv", 2, sharded_io.TEXT,
                                        related_rows.HEADER))


def same_files(a, b):
  """Asserts that folders a and b hold the same files with the same bytes."""
  names = sorted(os.listdir(a))
  assert names == sorted(os.listdir(b)) and names
  _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
  assert not mismatch and not errors
