"""The evaluation's readers: embeddings, baseline features, labels and test edges, in memory.

Each reader streams its files and keeps only the ids `keep` accepts, so
memory is O(kept items x dim) (`gcml evaluate`, the in-memory engine). Local
files are read without Beam (`pipelines/io/file_system.py`); feature records
are checked in batches (`features.parse_items`), and an embedding record that
is exactly `gcml export`'s encoding of its id and vector is read from its wire
format (`feature_batches.plain_record`); any other record is parsed in full.
"""

from __future__ import annotations

import collections
import functools
import json
import logging

import itertools

import numpy as np

from model import metrics
from pipelines.io import features as features_lib
from pipelines.io import feature_batches, inputs, tf_example
from pipelines.io.file_system import FileSystems
from pipelines import split
from pipelines.io import edge_records
from pipelines.io import edges_local as local_io
from pipelines.errors import InputError

FEATURE_BATCH = 4096  # feature records checked per `features.parse_items` call


def read_embeddings(paths, keep, rejected: collections.Counter | None = None
                    ) -> dict[str, np.ndarray]:
  """id -> embedding for ids where `keep(id)`.

  Args:
    paths: embedding TFRecord files (contract 7).
    keep: which ids to return.
    rejected: counts refused vectors by reason: a kept embedding with a NaN or
      infinite value is left out and counted as `embedding_not_finite`.

  Returns:
    Item id -> float32 embedding.

  Raises:
    InputError: a record that is not an embedding, embeddings of different
      sizes (naming both sizes and files), or a kept id found twice (naming
      both files: each id must appear once, e.g. not two shard sets mixed).
  """
  out, seen = {}, {}
  first = None  # (dim, path) of the first embedding
  for path in paths:
    for data in inputs.tfrecords([path]):
      item_id, vec = _embedding_record(data, path, first[0] if first else 0)
      if first is None:
        first = (vec.size, path)
      if vec.size != first[0] or not vec.size:
        raise InputError(f"--embeddings: embeddings of {first[0]} values in {first[1]} and of "
                         f"{vec.size} values in {path} (id {item_id!r}); one model's "
                         "embeddings have one size")
      if not keep(item_id):
        continue
      if item_id in seen:
        where = f"twice in {path}" if seen[item_id] == path else \
            f"in {seen[item_id]} and in {path}"
        raise InputError(f"--embeddings: id {item_id!r} appears {where}; each id must appear "
                         "once (two exports mixed in one glob?)")
      seen[item_id] = path
      if not np.all(np.isfinite(vec)):
        if rejected is not None:
          rejected["embedding_not_finite"] += 1
        continue
      out[item_id] = vec
  return out


def _embedding_record(data: bytes, path: str, dim: int) -> tuple[str, np.ndarray]:
  """(id, float32 vector) of one embedding record.

  A record of `dim` values that is exactly `tf_example.encode` of its id and
  vector (what `gcml export` writes) is read from its wire format; any other
  record (another size, another layout, an id with surrounding spaces) is
  parsed in full, which gives the same id and values for the records both read.
  """
  if dim:
    plain = feature_batches.plain_record(data, {b"embedding": 4 * dim}, b"id", b"labels")
    if plain is not None:
      vec = np.frombuffer(plain[1][b"embedding"], "<f4")
      raw_id = plain[0].encode("utf-8")
      head, tail = _export_framing(len(raw_id), dim)
      # `tf_example.encode` of (id, vec) is head + vec's bytes + tail + id (checked in slices)
      if (len(data) == len(head) + 4 * dim + len(tail) + len(raw_id)
          and data.startswith(head) and data.endswith(raw_id)
          and data[len(head) + 4 * dim:len(data) - len(raw_id)] == tail
          and data[len(head):len(head) + 4 * dim] == vec.tobytes()):
        return plain[0], vec
  try:
    rec = tf_example.parse(data)
    return rec["id"][0].decode("utf-8"), np.asarray(rec["embedding"], np.float32)
  except (ValueError, KeyError, IndexError, UnicodeDecodeError, TypeError, AttributeError) as e:
    raise InputError(f"--embeddings: {path}: not an embedding record ({e})") from None


@functools.lru_cache(maxsize=256)
def _export_framing(id_bytes: int, dim: int) -> tuple[bytes, bytes]:
  """The bytes of `tf_example.encode({"embedding": v, "id": i})` around v's and i's bytes.

  For an id of `id_bytes` UTF-8 bytes and `dim` floats the record is
  head + the floats' bytes + tail + the id's bytes: the framing depends on
  the lengths only. Found by encoding two records whose floats differ in
  every byte.
  """
  dummy = "a" * id_bytes
  zeros = tf_example.encode({"embedding": np.zeros(dim, "<f4"), "id": dummy})
  ones = tf_example.encode({"embedding": np.frombuffer(b"\xff" * 4 * dim, "<f4"), "id": dummy})
  start = next(j for j, (a, b) in enumerate(zip(zeros, ones)) if a != b)
  assert zeros.endswith(dummy.encode("utf-8")) and zeros[start:start + 4 * dim] == bytes(4 * dim)
  return zeros[:start], zeros[start + 4 * dim:len(zeros) - id_bytes]


def read_baseline_features(paths, modalities, keep) -> dict[str, np.ndarray]:
  """id -> concatenation of the L2-normalised modalities (valid records only).

  Args:
    paths: feature TFRecord files (contract 2).
    modalities: the modalities, in order.
    keep: which ids to return.

  Returns:
    {id: float32 baseline vector}; an id found twice keeps its first valid record.
  """
  out = {}
  records = inputs.tfrecords(paths)
  while batch := list(itertools.islice(records, FEATURE_BATCH)):
    fresh = {}
    for item in features_lib.parse_items(batch, modalities):
      if isinstance(item, features_lib.Item) and item.id not in out and item.id not in fresh \
          and keep(item.id):
        fresh[item.id] = item
    out.update(zip(fresh, baseline_vectors(list(fresh.values()), modalities)))
  return out


def baseline_vectors(items: list, modalities) -> np.ndarray:
  """`baseline_vector` of many items at once (the same values: each row is normalised alone).

  Args:
    items: valid feature records.
    modalities: the modalities, in order.

  Returns:
    float32 [items, sum of the modalities' sizes].
  """
  if not items:
    return np.zeros((0, sum(m.dim for m in modalities)), np.float32)
  return np.concatenate(
      [metrics.normalize_rows(np.stack([item.features[m.name] for item in items]))
       for m in modalities], axis=1).astype(np.float32)


def baseline_vector(item: features_lib.Item, modalities) -> np.ndarray:
  """The raw-feature baseline of one item: its L2-normalised modalities, concatenated.

  Args:
    item: a valid feature record.
    modalities: the modalities, in order.

  Returns:
    float32 [sum of the modalities' sizes].
  """
  return np.concatenate(
      [metrics.normalize_rows(item.features[m.name][None, :])[0] for m in modalities]
  ).astype(np.float32)


def read_labels(paths) -> dict[str, tuple]:
  """id -> labels (int64 list) of every record that has an id and labels.

  Args:
    paths: feature TFRecord files with a `labels` int64 list.

  Returns:
    {id: tuple of labels}; records without an id or labels are skipped.
  """
  out = {}
  for data in inputs.tfrecords(paths):
    try:
      rec = tf_example.parse(data)
    except ValueError:
      continue
    ids, labels = rec.get("id"), rec.get("labels")
    if not ids or labels is None or isinstance(labels, np.ndarray) or not len(labels):
      continue
    try:
      out.setdefault(ids[0].decode("utf-8").strip(), tuple(int(x) for x in labels))
    except (UnicodeDecodeError, AttributeError):
      continue
  return out



def read_test_edges(paths, edge_format, keep) -> set[tuple[str, str]]:
  """Valid undirected edges (a < b) with both endpoints kept.

  Reads through the same validation as every other stage; refused records
  are counted and logged (evaluation writes no rejected/ folder of its own).

  Args:
    paths: edge files (contract 1).
    edge_format: csv, tsv, tfrecord or auto (from the first path's extension).
    keep: which ids count (the test items).

  Returns:
    {(a, b)} with a < b.

  Raises:
    InputError: `auto` and a first path without a known extension.
  """
  if paths:
    edge_format = edge_records.edge_format_of(paths[0], edge_format)
  graph = local_io.read_edges_local(paths, edge_format, "max", stage="evaluate")
  if graph.rejections:
    reasons = collections.Counter(r.reason for r in graph.rejections)
    logging.warning("evaluate: %d edge records rejected: %s", len(graph.rejections),
                    dict(sorted(reasons.items())))
  kept = [keep(item_id) for item_id in graph.ids]
  return {(graph.ids[a], graph.ids[b]) for a, b in zip(graph.src.tolist(), graph.dst.tolist())
          if kept[a] and kept[b]}


def check_embeddings_split(config) -> None:
  """Refuses embeddings of a model trained under another cold-start split.

  The split comes from the `export` section of the `summary.json` beside each
  embeddings glob (`gcml export` copies it from the model's `split.json`).

  Args:
    config: the evaluation's config (its `embeddings` and `test_fraction`).

  Raises:
    InputError: embeddings made under another split.
  """
  for glob in filter(None, (g.strip() for g in config.embeddings.split(","))):
    path = FileSystems.join(glob.rsplit("/", 1)[0] if "/" in glob else ".",
                            "summary.json")
    if FileSystems.exists(path):
      with FileSystems.open(path) as f:
        recorded = json.loads(f.read().decode("utf-8")).get("export", {}).get("split")
      split.check_same(recorded, config.test_fraction, f"--embeddings={glob}")

