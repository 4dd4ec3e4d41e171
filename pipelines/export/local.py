"""`gcml export --engine=local`: the Beam export's files, byte for byte, in one process.

The same rules as the Beam pipeline (`pipelines/export.py`; the model calls in `export_model.py`), in the same
order of operations on the same operands, so every file (embeddings,
related items, rejections, manifests, summary) has the same bytes:

1. Scan (pass 1): every feature record is validated (`features.parse_items`, the
   batched wire-format reader that sends anything unusual through `parse_item`;
   for a temporal model's frame-level files `frame_features.parse_frame_item`,
   corrupt frames as `tfrecord_files.records_or_rejections`); only ids and
   record locations are kept. An id found more than once keeps the record
   whose bytes sort first (the others are `duplicate_id` rejections), as
   `features_beam.ReadFeatures` does.
2. Embed (pass 2, streamed): the model runs on `fixed_batches.fixed_batches_local`,
   the batches `FixedBatches` forms, stacked as `export_model.stack_batch` and
   called as `SignatureModelHandler` does. The features are read again file
   by file and only the batches of the current group are held: groups of at
   most `--local_max_items` items, one pass over the features each, so
   memory is bounded by that budget. Up to that many valid records, pass 1
   keeps their features and pass 2 reads nothing again.
3. Related items (`local_related.py`): the exact search
   (`related_items.top_k_block` on `FixedBatches` query batches) or IVF-PQ
   (`related_ann`, with the exact re-rank of `related_rerank`) over the
   finite embeddings, all in memory (N x dim floats, as the broadcast index
   of the Beam engine), query batches on every core, into a
   `related_rows.RelatedTable` (arrays, N x K x 8 bytes), which
   `related_rows.write_table` writes shard by shard as it formats the rows.

Beam is not imported on this path (`pipelines/io/file_system.py` for files).
"""

from __future__ import annotations

import collections
import logging
import time

import numpy as np

from pipelines.export import saved_model as export_model
from pipelines.io import features as features_lib
from pipelines.io import frame_validation, record_checks
from pipelines.export import local_related
from pipelines.io import related_rows
from pipelines.io import rejected, sharded_io, tfrecord_files
from pipelines.export.fixed_batches import fixed_batches_local
from pipelines.io.file_system import FileSystems
from pipelines.io.rejected import Rejection, binary_record

STAGE = export_model.STAGE
MAX_ITEMS_PER_PASS = 1 << 20  # 1M items of 80 floats in one pass: 2.5 GB peak (docs)


def _records(paths):
  """(location, record bytes or Rejection) of every file, in file order."""
  for f, path in enumerate(paths):
    for r, record in enumerate(tfrecord_files.records_or_rejections(path, STAGE)):
      yield (f, r), record


def _checks(modalities, frames: bool):
  return (frame_validation.frame_checks(modalities) if frames
          else features_lib.feature_checks(modalities))


def parse_record(data: bytes, modalities, frames: bool = False):
  """One record as the Beam engine's reader parses it.

  Args:
    data: a serialized record.
    modalities: the modalities every record must have.
    frames: frame-level records (`frame_validation.frame_checks`).

  Returns:
    (id, features: {modality: vector or [frames, dim]}), or a Rejection.
  """
  item = record_checks.check(data, _checks(modalities, frames), STAGE)
  if isinstance(item, Rejection):
    return item
  return item.id, (item.frames if frames else item.features)


def _parsed(paths, modalities, frames: bool, wanted=None):
  """(location, (id, features) or Rejection) of every record, checked in batches.

  The records go through the reader's `parse_many` (the batched wire-format
  reader of `features.parse_items`) `record_checks.BATCH_RECORDS` at a time;
  each result is the one `parse_record` gives. With `wanted` (locations),
  only those records are parsed and yielded (corrupt frames are skipped).
  """
  checks = _checks(modalities, frames)
  batch = []

  def flush():
    results = (checks.parse_many([d for _, d in batch]) if checks.parse_many is not None
               else [checks.parse(d) for _, d in batch])
    for (location, data), item in zip(batch, results):
      if isinstance(item, str):
        yield location, Rejection(STAGE, item, checks.shown(data))
      else:
        yield location, (item.id, item.frames if frames else item.features)
    batch.clear()

  for location, data in _records(paths):
    if wanted is not None and location not in wanted:
      continue
    if isinstance(data, Rejection):
      yield from flush()
      yield location, data
      continue
    batch.append((location, data))
    if len(batch) >= record_checks.BATCH_RECORDS:
      yield from flush()
  yield from flush()


def scan_features(paths, modalities, max_items: int = MAX_ITEMS_PER_PASS, frames: bool = False):
  """Pass 1: each valid id's chosen record location, and the rejections.

  Args:
    paths: feature TFRecord files.
    modalities: the modalities every record must have.
    max_items: the valid records whose features are kept from this pass (so
      that pass 2 need not read the files again); over it, none are kept.
    frames: frame-level records (a temporal model).

  Returns:
    ({id: location}, [Rejection], {location: features} or None).
  """
  locations, rejections, kept = collections.defaultdict(list), [], {}
  for location, parsed in _parsed(paths, modalities, frames):
    if isinstance(parsed, Rejection):
      rejections.append(parsed)
      continue
    locations[parsed[0]].append(location)
    if kept is not None:
      kept[location] = parsed[1]
      if len(kept) > max_items:
        kept = None
  duplicated = {loc: item_id for item_id, locs in locations.items() if len(locs) > 1
                for loc in locs}
  chosen = {item_id: locs[0] for item_id, locs in locations.items()}
  if duplicated:
    found = collections.defaultdict(list)
    for location, data in _records(paths):
      if location in duplicated:
        found[duplicated[location]].append((data, location))
    for item_id, records in found.items():
      records.sort(key=lambda dl: dl[0])
      chosen[item_id] = records[0][1]
      rejections += [Rejection(STAGE, features_lib.DUPLICATE_ID,
                               f"id={item_id} {binary_record(data)}")
                     for data, _ in records[1:]]
  return chosen, rejections, kept


def embed(paths, modalities, chosen: dict, model_path: str, batch_size: int,
          max_items: int = MAX_ITEMS_PER_PASS, kept: dict | None = None, frames: bool = False):
  """Pass 2: the model on the fixed batches, features read again group by group.

  Args:
    paths: feature TFRecord files.
    modalities: the modalities.
    chosen: {id: record location} from `scan_features`.
    model_path: the SavedModel's folder.
    batch_size: items per model call (`--batch_size`).
    max_items: items whose features one pass over the files holds.
    kept: {location: features} from `scan_features`, if it kept them all.
    frames: frame-level records (a temporal model).

  Returns:
    (the ids with a finite embedding, sorted; float32 [n, d], their
    embeddings in that order; [embedding_not_finite Rejection]).
  """
  fn = export_model.load(model_path).signatures["serving_default"]
  batches = fixed_batches_local(sorted(chosen), batch_size)
  groups, size = [[]], 0
  for batch in batches:
    if size + len(batch) > max_items and groups[-1]:
      groups.append([])
      size = 0
    groups[-1].append(batch)
    size += len(batch)
  ids = sorted(chosen)
  position = {item_id: row for row, item_id in enumerate(ids)}
  matrix, finite, rejections = None, np.zeros(len(ids), bool), []
  for group in groups:
    wanted = {chosen[item_id]: item_id for batch in group for item_id in batch}
    if kept is not None:
      features = {item_id: kept[location] for location, item_id in wanted.items()}
    else:
      features = {wanted[location]: parsed[1]
                  for location, parsed in _parsed(paths, modalities, frames, wanted)}
    for batch in group:
      batch_ids, stacked = export_model.stack_batch([(i, features.pop(i)) for i in batch])
      out = np.asarray(export_model.embed_batch(fn, stacked), np.float32)
      if matrix is None:
        matrix = np.zeros((len(ids), out.shape[1]), np.float32)
      rows = np.array([position[i] for i in batch_ids], np.int64)
      good = np.isfinite(out).all(axis=1)
      matrix[rows[good]] = out[good]
      finite[rows[good]] = True
      rejections += [Rejection(STAGE, "embedding_not_finite",
                               f"{item_id}: the model's embedding has NaN or inf")
                     for item_id, ok in zip(batch_ids, good.tolist()) if not ok]
  keep = np.flatnonzero(finite)
  matrix = matrix[keep] if matrix is not None else np.zeros((0, 0), np.float32)
  return [ids[r] for r in keep.tolist()], matrix, rejections


class _PhaseClock:
  """Wall and CPU seconds (every thread) of each phase, for the log."""

  def __init__(self):
    self._last = (time.perf_counter(), time.process_time())
    self._phases = []

  def mark(self, name: str):
    now = (time.perf_counter(), time.process_time())
    wall, cpu = now[0] - self._last[0], now[1] - self._last[1]
    self._phases.append(f"{name} {wall:.1f} s / {cpu:.1f} CPU-s")
    self._last = now

  def __str__(self):
    return ", ".join(self._phases)


def run_local(config, model_path: str, feature_paths, num_shards: int,
              frames: bool = False) -> dict:
  """Writes the export's files; returns the counts `WriteStats` would sum.

  Args:
    config: the export's settings (`export.ExportConfig`).
    model_path: the SavedModel's folder.
    feature_paths: feature TFRecord files.
    num_shards: output shards.
    frames: frame-level feature files (a temporal model).

  Returns:
    {name: count}: features/valid_items (frames/valid_items), rejected/<reason>, export/embedded_items.
  """
  phases = _PhaseClock()
  chosen, rejections, kept = scan_features(feature_paths, config.modalities,
                                           config.local_max_items, frames)
  phases.mark("read+check")
  ids, matrix, not_finite = embed(feature_paths, config.modalities, chosen, model_path,
                                  config.batch_size, config.local_max_items, kept, frames)
  del kept
  phases.mark("embed")
  rejections += not_finite
  output = config.output_dir
  sharded_io.write_sorted_shards_local(
      export_model.embedding_records(ids, matrix),
      FileSystems.join(output, "embeddings"), ".tfrecord", num_shards, sharded_io.TFRECORD)
  phases.mark("write embeddings")
  table = local_related.related_table(config, ids, matrix)
  phases.mark(f"related items ({config.search})")
  related_rows.write_table(table, FileSystems.join(output, "related"), num_shards)
  phases.mark("write related")
  counts = collections.Counter(rejected.write_rejected_local(output, STAGE, rejections))
  if chosen:
    counts[frame_validation.VALID_ITEMS if frames else "features/valid_items"] = len(chosen)
  if ids:
    counts["export/embedded_items"] = len(ids)
  logging.info("export (local): %d items, %d embedded, %d rejections; %s", len(chosen),
               len(ids), len(rejections), phases)
  return dict(sorted(counts.items()))
