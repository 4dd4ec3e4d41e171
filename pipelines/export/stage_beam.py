"""The Beam half of `gcml export`: RunInference over the SavedModel, and the stage's `build`.

Kept apart so that `gcml export --engine=local` runs without importing Beam
(`pipelines/beam_parts.py`).
"""

from __future__ import annotations

from collections.abc import Sequence

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from pipelines.export.fixed_batches_beam import FixedBatches
from pipelines.export.saved_model import STAGE, embed_batch, embedding_record, stack_batch
from pipelines.io import (features_beam, frame_validation_beam, rejected, rejected_beam,
                          related_rows, sharded_io, sharded_io_beam, summary_beam)


class SignatureModelHandler(ModelHandler):
  """RunInference handler: one fixed batch -> its embeddings (np.float32 [n, d]).

  Every element is a whole batch (`stack_batch`) and RunInference passes
  one element per call, so the model sees exactly the batches formed there.
  """

  def __init__(self, path: str):
    super().__init__(min_batch_size=1, max_batch_size=1)
    self._path = path

  def load_model(self):
    import model  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    return tf.saved_model.load(self._path)

  def run_inference(self, batch: Sequence[tuple], model, inference_args=None):
    fn = model.signatures["serving_default"]
    return [PredictionResult(ids, embed_batch(fn, features), self._path)
            for ids, features in batch]

  def get_num_bytes(self, batch: Sequence[tuple]) -> int:
    return sum(v.nbytes for _, features in batch for v in features.values())

  def get_metrics_namespace(self) -> str:
    return "gcml_export"


def split_finite(result: PredictionResult):
  """Embedded batch -> (id, vector) pairs; a non-finite vector goes to `rejected`.

  Args:
    result: RunInference's result for one fixed batch.

  Yields:
    (item id, float32 vector), or a `rejected` tagged Rejection.
  """
  for item_id, vector in zip(result.example, np.asarray(result.inference, np.float32)):
    if np.all(np.isfinite(vector)):
      yield item_id, vector
    else:
      yield beam.pvalue.TaggedOutput("rejected", rejected.Rejection(
          STAGE, "embedding_not_finite", f"{item_id}: the model's embedding has NaN or inf"))


def build(pipeline: beam.Pipeline, config, model_path: str, feature_paths,
          num_shards: int, frames: bool = False):
  """Adds the export pipeline to `pipeline`: embed every item, write embeddings and related items.

  Args:
    pipeline: the pipeline.
    config: the stage's config (modalities resolved).
    model_path: the SavedModel.
    feature_paths: the feature files.
    num_shards: shards of each output.
    frames: the feature files are frame-level (a temporal model's SavedModel).
  """
  if frames:
    read = pipeline | "ReadFrameFeatures" >> frame_validation_beam.ReadFrameFeatures(
        feature_paths, config.modalities, STAGE)
    keyed = read.items | "KeyById" >> beam.Map(lambda item: (item.id, item.frames))
  else:
    read = pipeline | "ReadFeatures" >> features_beam.ReadFeatures(
        feature_paths, config.modalities, STAGE)
    keyed = read.items | "KeyById" >> beam.Map(lambda item: (item.id, item.features))
  embedded = (keyed
              | "FixedBatches" >> FixedBatches(config.batch_size)
              | "StackBatches" >> beam.Map(stack_batch)
              | "Embed" >> RunInference(SignatureModelHandler(model_path))
              | "SplitFinite" >> beam.FlatMap(split_finite).with_outputs("rejected",
                                                                         main="embeddings"))
  embeddings = embedded.embeddings
  _ = (embeddings
       | "EncodeEmbeddings" >> beam.MapTuple(embedding_record)
       | "WriteEmbeddings" >> sharded_io_beam.WriteSortedShards(
           FileSystems.join(config.output_dir, "embeddings"), ".tfrecord", num_shards,
           sharded_io.TFRECORD))
  _ = (embeddings
       | "RelatedItems" >> config.related_transform()
       | "WriteRelated" >> sharded_io_beam.WriteSortedShards(
           FileSystems.join(config.output_dir, "related"), ".tsv", num_shards,
           sharded_io.TEXT, related_rows.HEADER))
  rejection_counts = ((read.rejected, embedded.rejected)
                      | "AllRejected" >> beam.Flatten()
                      | "WriteRejected" >> rejected_beam.WriteRejected(config.output_dir, STAGE))
  counted = embeddings | "CountEmbedded" >> beam.Map(lambda _: ("export/embedded_items", 1))
  _ = ((read.stats, rejection_counts, counted)
       | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary_beam.WriteStats(config.output_dir, STAGE))
