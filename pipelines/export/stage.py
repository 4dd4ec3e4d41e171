"""`gcml export`: embed every item with the SavedModel, write contract 7.

Reads features (contract 2), embeds them with Beam's RunInference over the
model's `serving_default` signature (contract 8: one float tensor per
modality in, `embedding` out), batched, and writes (a temporal model, whose
signature takes `frame_mask`, reads frame-level files instead, docs/frames.md:
each fixed batch padded to its longest video):

* `OUTPUT/embeddings-*.tfrecord`: `tf.train.Example` with `id` (bytes) and
  `embedding` (float list);
* `OUTPUT/related-*.tsv`: header `id\\trank\\tneighbor\\tscore`, each item's
  top-K most similar other items by cosine (`pipelines/export/related_items.py`;
  `--search=ivfpq`: approximate, through a faiss IVF-PQ index,
  `pipelines/export/related_ann.py`);
* refused feature records under `OUTPUT/rejected/`, counts in
  `OUTPUT/summary.json` (section `export`); an item whose embedding comes
  out with a NaN or inf is refused there too (`embedding_not_finite`), never
  written to the embeddings or the related items.

Fixed batches (byte-reproducible output): a matrix product's last bits
depend on the batch it runs in (its size and the row's place), and Beam's
batching depends on bundling and timing. So the model calls (and the
related-items query batches) run on `pipelines/export/fixed_batches.py`: the ids
are hashed into ceil(N / batch_size) buckets, each bucket is sorted by id
and cut into batches of at most `--batch_size`, so an item's batch depends
only on the ids. This costs one shuffle of the features (GroupByKey).

RunInference: Beam's `TFModelHandlerNumpy` feeds one stacked array to a Keras
model; ours takes a dict of modality tensors through a signature, so
`SignatureModelHandler` calls `serving_default` on each fixed batch.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence
from typing import Literal

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, PredictionResult, RunInference

from pipelines.io import features as features_lib
from pipelines.io import frame_validation
from pipelines.io import inputs, modalities, rejected, related_rows
from pipelines.export import related_ann, related_items
from pipelines.io import sharded_io, summary
from pipelines import config_flags
from pipelines.errors import InputError
from pipelines.io import stage_run
from pipelines.export.saved_model import (STAGE, embed_batch, embedding_record,
                                          saved_model_path, signature_modalities, stack_batch,
                                          takes_frames)
from pipelines.export.fixed_batches import FixedBatches


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


@dataclasses.dataclass
class ExportConfig:
  """What `gcml export` writes (flags of the same names, `pipelines/config_flags.py`).

  Attributes:
    model_dir: SavedModel directory, or a gcml train --model_dir (uses export/).
    features: feature TFRecord glob(s).
    output_dir: where the embeddings, related items and `summary.json` go.
    top_k: related items per item.
    modalities: name:dim,...; default: the SavedModel signature's inputs.
    num_shards: output shards (0: one per feature file).
    batch_size: items per model call (fixed batches: see the module docstring).
    query_batch: items per related-items query batch.
    index_chunk: index rows per scoring chunk.
    max_index_bytes: cap on the bytes of the top-K index broadcast to every
      worker (exact: N * dim * 4 + ids; ivfpq: the serialised index + ids).
    search: top-K search: exact cosine, or ivfpq (faiss IVF-PQ, approximate;
      for indexes over the exact limit).
    ann_nprobe: ivfpq: lists per query.
    ann_code_bytes: ivfpq: PQ bytes per item (0: dim / 2).
    ann_nlist: ivfpq: coarse centroids (0: min(4 sqrt(N), train items / 39)).
    ann_train_size: ivfpq: items (chosen by id hash) the quantizers are trained on.
    ann_rerank: ivfpq: candidates per item re-scored by exact cosine, the top_k
      best kept (default 4 x top_k; 0: the index's own scores).
    engine: beam: a Beam pipeline (any runner); local: in memory on this
      machine, the same bytes.
    local_max_items: local: items whose features one pass over the files holds
      (bounds memory; more items take more passes).
  """
  model_dir: str
  features: str
  output_dir: str
  top_k: int = 60
  modalities: tuple | None = config_flags.modalities_field()  # None: the SavedModel's inputs
  num_shards: int = 0  # 0: one per feature file
  batch_size: int = 256
  query_batch: int = 256
  index_chunk: int = 65536
  max_index_bytes: int = related_rows.MAX_INDEX_BYTES
  search: Literal[related_rows.SEARCHES] = "exact"
  ann_nprobe: int = 32
  ann_code_bytes: int = 0  # 0: dim / 2
  ann_nlist: int = 0  # 0: min(4 sqrt(N), train items / 39)
  ann_train_size: int = 65536
  ann_rerank: int | None = None  # None: 4 x top_k; 0: no re-rank
  engine: config_flags.Engine = "beam"  # beam, or local (in memory, the same bytes: export_local.py)
  local_max_items: int = 1 << 18  # local: items whose features one pass holds

  def validate(self):
    if self.top_k < 1:
      raise InputError(f"--top_k must be >= 1, got {self.top_k}")
    for name in ("batch_size", "query_batch", "index_chunk", "max_index_bytes", "ann_nprobe",
                 "ann_train_size", "local_max_items"):
      if getattr(self, name) < 1:
        raise InputError(f"--{name} must be >= 1, got {getattr(self, name)}")
    for name in ("ann_code_bytes", "ann_nlist", "ann_rerank"):
      if (getattr(self, name) or 0) < 0:
        raise InputError(f"--{name} must be >= 0, got {getattr(self, name)}")
    if self.search not in related_rows.SEARCHES:
      raise InputError(f"--search must be one of {', '.join(related_rows.SEARCHES)}, "
                       f"got {self.search!r}")

  def rerank_candidates(self) -> int:
    """Candidates per item re-scored exactly with --search=ivfpq (0: none)."""
    return 4 * self.top_k if self.ann_rerank is None else self.ann_rerank

  def related_transform(self) -> related_items.RelatedItems:
    return related_items.RelatedItems(
        self.top_k, self.query_batch, self.index_chunk, self.max_index_bytes, self.search,
        related_ann.AnnParams(self.ann_nprobe, self.ann_code_bytes, self.ann_nlist,
                              self.ann_train_size), self.rerank_candidates())


def build(pipeline: beam.Pipeline, config: ExportConfig, model_path: str, feature_paths,
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
    read = pipeline | "ReadFrameFeatures" >> frame_validation.ReadFrameFeatures(
        feature_paths, config.modalities, STAGE)
    keyed = read.items | "KeyById" >> beam.Map(lambda item: (item.id, item.frames))
  else:
    read = pipeline | "ReadFeatures" >> features_lib.ReadFeatures(
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
       | "WriteEmbeddings" >> sharded_io.WriteSortedShards(
           FileSystems.join(config.output_dir, "embeddings"), ".tfrecord", num_shards,
           sharded_io.TFRECORD))
  _ = (embeddings
       | "RelatedItems" >> config.related_transform()
       | "WriteRelated" >> sharded_io.WriteSortedShards(
           FileSystems.join(config.output_dir, "related"), ".tsv", num_shards,
           sharded_io.TEXT, related_rows.HEADER))
  rejection_counts = ((read.rejected, embedded.rejected)
                      | "AllRejected" >> beam.Flatten()
                      | "WriteRejected" >> rejected.WriteRejected(config.output_dir, STAGE))
  counted = embeddings | "CountEmbedded" >> beam.Map(lambda _: ("export/embedded_items", 1))
  _ = ((read.stats, rejection_counts, counted)
       | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary.WriteStats(config.output_dir, STAGE))


def parse_args(argv) -> tuple[ExportConfig, list]:
  """Parses `gcml export`'s flags into its config and the Beam pipeline options.

  Args:
    argv: the command line after `gcml export`.

  Returns:
    (the ExportConfig, the arguments left for Beam's pipeline options).

  Raises:
    InputError: a flag that neither the stage nor Beam knows, or a bad value (one line).
  """
  return config_flags.parse_stage_config("gcml export", __doc__, ExportConfig, argv,
                                         beam_engine_only=True)


def run(argv=None) -> dict:
  """Runs `gcml export` on its command line (`parse_args`, then `run_config`).

  Args:
    argv: the command line after `gcml export` (None: `sys.argv[1:]`).

  Returns:
    The `export` section of summary.json ({} on a Beam dry run).
  """
  return run_config(*parse_args(argv))


def run_config(config: ExportConfig, pipeline_args: tuple = ()) -> dict:
  """Runs the export.

  Args:
    config: what to export.
    pipeline_args: Beam pipeline options (`--runner=...`), for `--engine=beam`.

  Returns:
    The `export` section of summary.json ({} on a Beam dry run).
  """
  config.validate()
  model_path = saved_model_path(config.model_dir)
  served = signature_modalities(model_path)
  if config.modalities is not None:
    modalities.check_agrees(config.modalities, served, "--modalities",
                            f"the model {model_path} (its serving signature)")
  config = dataclasses.replace(config, modalities=config.modalities or served)
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  frames = takes_frames(model_path)  # a temporal model reads frame-level files
  if not frames:  # frame-level records are checked (and refused) by their reader
    modalities.check_given(config.modalities, feature_paths)
  num_shards = config.num_shards or max(1, len(feature_paths))
  sharded_io.ensure_dir(config.output_dir)
  from pipelines.export import local as export_local  # pylint: disable=import-outside-toplevel
  ran = stage_run.run_engine(
      "gcml export", config.engine, pipeline_args,
      build=lambda p: build(p, config, model_path, feature_paths, num_shards, frames),
      run_local=lambda: export_local.run_local(config, model_path, feature_paths, num_shards,
                                               frames))
  if ran.dry_run:
    return {}
  from model import data_split  # pylint: disable=import-outside-toplevel
  extra = {"model": model_path, "features_glob": config.features, "top_k": config.top_k,
           "search": config.search, "num_shards": num_shards,
           "modalities": features_lib.modalities_flag(config.modalities)}
  if frames:
    extra["frames"] = True
  if config.search == "ivfpq":
    extra["ann_rerank"] = config.rerank_candidates()
  trained_under = data_split.model_split(model_path)
  if trained_under is not None:
    extra["split"] = trained_under
  section = stage_run.write_section(config.output_dir, STAGE, extra, ran.local_result)
  logging.info("export: %s", section)
  print(f"export: {section.get('export/embedded_items', 0)} items embedded; "
        f"{config.output_dir}/embeddings-*.tfrecord and related-*.tsv", file=sys.stdout)
  return section

