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
  `--search=ivfflat|ivfpq`: approximate, through a faiss IVF index,
  `pipelines/export/related_ann.py`; ivfflat is the choice at 1M items);
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
from typing import Literal

from pipelines.io import features as features_lib
from pipelines.io import inputs, modalities, related_rows
from pipelines.export import related_ann
from pipelines.io import sharded_io
from pipelines import config_flags
from pipelines.errors import InputError
from pipelines.io import stage_run
from pipelines.export.saved_model import (STAGE, saved_model_path, signature_modalities,
                                          takes_frames)


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
      worker (exact: N * dim * 4 + ids; ivfflat, ivfpq: the serialised index + ids).
    search: top-K search: exact cosine (every pair), ivfflat (IVF-Flat: the
      exact top K within the probed lists, `related_inverted.py`; fast at 1M items) or ivfpq
      (faiss IVF-PQ, approximate scores, re-ranked; for indexes over the
      broadcast limit).
    ann_nprobe: ivfflat, ivfpq: lists per query.
    ann_code_bytes: ivfpq: PQ bytes per item (0: dim / 2).
    ann_nlist: ivfflat, ivfpq: coarse centroids (0: min(4 sqrt(N), train items / 39)).
    ann_train_size: ivfflat, ivfpq: items (chosen by id hash) the quantizers are trained on.
    ann_rerank: ivfpq: candidates per item re-scored by exact cosine, the
      top_k best kept (default 4 x top_k; 0: the index's own scores). ivfflat:
      0 only (its scores are exact cosines already).
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
  ann_rerank: int | None = None  # None: 4 x top_k for ivfpq, 0 for ivfflat; 0: no re-rank
  engine: config_flags.Engine = "beam"  # beam, or local (in memory, the same bytes: export_local.py)
  local_max_items: int = 1 << 20  # local: items whose features one pass holds

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
    if self.search == "ivfflat" and self.ann_rerank:
      raise InputError("--ann_rerank applies to --search=ivfpq: --search=ivfflat's scores are "
                       "already exact cosines")
    if self.search not in related_rows.SEARCHES:
      raise InputError(f"--search must be one of {', '.join(related_rows.SEARCHES)}, "
                       f"got {self.search!r}")

  def rerank_candidates(self) -> int:
    """Candidates per item re-scored exactly with an IVF --search (0: none)."""
    if self.ann_rerank is not None:
      return self.ann_rerank
    return 4 * self.top_k if self.search == "ivfpq" else 0

  def ann_params(self) -> related_ann.AnnParams:
    """The IVF index settings of --search=ivfflat|ivfpq."""
    kind = self.search if self.search in related_ann.INDEX_KINDS else "ivfpq"
    return related_ann.AnnParams(self.ann_nprobe, self.ann_code_bytes, self.ann_nlist,
                                 self.ann_train_size, kind)

  def related_transform(self):
    """The Beam `related_items_beam.RelatedItems` transform of these settings (imports Beam)."""
    from pipelines.export import related_items_beam  # pylint: disable=import-outside-toplevel
    return related_items_beam.RelatedItems(
        self.top_k, self.query_batch, self.index_chunk, self.max_index_bytes, self.search,
        self.ann_params(), self.rerank_candidates())


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

  def build(pipeline):
    from pipelines.export import stage_beam  # pylint: disable=import-outside-toplevel
    stage_beam.build(pipeline, config, model_path, feature_paths, num_shards, frames)

  ran = stage_run.run_engine(
      "gcml export", config.engine, pipeline_args, build=build,
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
  if config.search in related_ann.INDEX_KINDS:
    extra["ann_rerank"] = config.rerank_candidates()
  trained_under = data_split.model_split(model_path)
  if trained_under is not None:
    extra["split"] = trained_under
  section = stage_run.write_section(config.output_dir, STAGE, extra, ran.local_result)
  logging.info("export: %s", section)
  print(f"export: {section.get('export/embedded_items', 0)} items embedded; "
        f"{config.output_dir}/embeddings-*.tfrecord and related-*.tsv", file=sys.stdout)
  return section
