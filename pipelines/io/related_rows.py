"""What both related-items searches share: the file's rows, the searches and the broadcast cap.

`pipelines/export/related_items.py` (exact) and `pipelines/export/related_ann.py`
(IVF-PQ) write the same `related-*.tsv` rows (contract 7) and check the same
per-worker broadcast limit; they import these from here, never each other's
module for them.
"""

from __future__ import annotations

import functools
import os
import uuid
import zlib
from typing import NamedTuple

import google_crc32c
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.io import sharded_io
from pipelines.io.file_system import FileSystems

HEADER = "id\trank\tneighbor\tscore"
SEARCHES = ("exact", "ivfpq", "ivfflat")
MAX_INDEX_BYTES = 1 << 30  # 1 GiB: e.g. 1M items x 256 floats (related_items.py: the budget)


class IndexTooLargeError(ValueError):
  """The broadcast index would not fit the documented per-worker budget."""


def format_rows(query_id: str, neighbours) -> list[tuple[str, str]]:
  """(sort_key, tsv line) per neighbour; rank is 1-based.

  Args:
    query_id: the item.
    neighbours: [(neighbor id, score)], best first.

  Returns:
    [(f"{id}\t{rank:06d}", f"{id}\t{rank}\t{neighbor}\t{score:.6f}")].
  """
  return [(f"{query_id}\t{rank:06d}", f"{query_id}\t{rank}\t{nid}\t{score:.6f}")
          for rank, (nid, score) in enumerate(neighbours, start=1)]


def unit_rows(vectors) -> np.ndarray:
  """Rows scaled to unit L2 norm in float32 (zero rows stay zero).

  Args:
    vectors: [n, d] array-like.

  Returns:
    float32 [n, d].
  """
  x = np.asarray(vectors, np.float32)
  norms = np.linalg.norm(x, axis=1, keepdims=True)
  return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


class RelatedTable(NamedTuple):
  """Every item's top-K as arrays: what `write_table` writes as `related-*.tsv` rows.

  Attributes:
    ids: the item ids, sorted (row i is `ids[i]`).
    neighbours: int32 [N, K]: per row, its neighbours' rows, best first.
    scores: float32 [N, K]: their scores (a row's first `counts[i]` are real).
    counts: int [N]: neighbours found per row.
  """
  ids: list
  neighbours: np.ndarray
  scores: np.ndarray
  counts: np.ndarray


def empty_table(ids, k: int) -> RelatedTable:
  """A table for `ids` (sorted) with room for k neighbours each, none found yet.

  Args:
    ids: the sorted item ids.
    k: neighbours per item.

  Returns:
    The `RelatedTable`, to fill row by row.
  """
  n = len(ids)
  return RelatedTable(list(ids), np.zeros((n, k), np.int32), np.zeros((n, k), np.float32),
                      np.zeros(n, np.int64))


@functools.lru_cache(maxsize=4)
def _shift_tables(suffix_bytes: int) -> np.ndarray:
  """CRC-32 is linear: crc(a + b) = L(crc(a)) ^ crc(b) for a fixed len(b). L, per byte of crc(a)."""
  zeros = bytes(suffix_bytes)
  base = zlib.crc32(zeros)
  return np.array([[zlib.crc32(zeros, v << (8 * j)) ^ base for v in range(256)]
                   for j in range(4)], np.uint32)


def key_shards(ids, k: int, num_shards: int) -> np.ndarray:
  """`sharded_io.shard_index` of every row's keys, `f"{id}\\t{rank:06d}"`, as [N, k] ints.

  One CRC-32 per id: the key's CRC is the id's, shifted over the 7-byte
  suffix (`_shift_tables`), XOR the suffix's own CRC.

  Args:
    ids: the item ids.
    k: ranks per id (at most 999,999: the rank has six digits).
    num_shards: the number of shards.

  Returns:
    int64 [N, k]: the shard of rank r + 1 of id i at [i, r].
  """
  tables = _shift_tables(7)
  crcs = np.fromiter((zlib.crc32(i.encode("utf-8")) for i in ids), np.uint32, len(ids))
  shifted = (tables[0][crcs & 0xFF] ^ tables[1][(crcs >> 8) & 0xFF]
             ^ tables[2][(crcs >> 16) & 0xFF] ^ tables[3][crcs >> 24])
  suffixes = np.array([zlib.crc32(b"\t%06d" % rank) for rank in range(1, k + 1)], np.uint32)
  return ((shifted[:, None] ^ suffixes[None, :]) % np.uint32(num_shards)).astype(np.int64)


def table_lines(table: RelatedTable, start: int, stop: int, num_shards: int = 1):
  """The tsv lines of rows [start, stop), in key order, and each line's shard.

  Args:
    table: the related items.
    start: the first row.
    stop: the row after the last.
    num_shards: the shard count the shard of each line is taken modulo.

  Returns:
    (lines, shards): `format_rows`' lines of those rows (ids ascending, then
    rank), and an int array of their shards (`sharded_io.shard_index` of their keys).
  """
  counts = table.counts[start:stop]
  k = table.neighbours.shape[1]
  real = np.arange(k)[None, :] < counts[:, None]
  rows = np.nonzero(real)
  neighbours = table.neighbours[start:stop][real].tolist()
  scores = ("%.6f\n" * len(neighbours) % tuple(table.scores[start:stop][real].tolist()))
  prefixes = [f"{table.ids[start + q]}\t" for q in range(stop - start)]
  rank_text = [f"{r}\t" for r in range(1, k + 1)]
  ids = table.ids
  lines = [f"{prefixes[q]}{rank_text[r]}{ids[n]}\t{s}" for q, r, n, s in
           zip(rows[0].tolist(), rows[1].tolist(), neighbours, scores.split("\n"))]
  if num_shards == 1:
    return lines, np.zeros(len(lines), np.int64)
  return lines, key_shards(table.ids[start:stop], k, num_shards)[real]


SCORE_UNITS = 1_000_000  # "%.6f": scores in millionths
MAX_FAST_SCORE = 1 << 20  # larger |scores| (never cosines) are formatted by Python


@functools.lru_cache(maxsize=1)
def _cosine_texts() -> pa.Array:
  """`score_texts` of every score in [-1, 1] by millionths: [0, 1] then -[0, 1] (2,000,002 texts)."""
  units = np.arange(SCORE_UNITS + 1, dtype=np.float64) / SCORE_UNITS
  return pa.concat_arrays([_formatted(units), _formatted(-units)])


def score_texts(scores: np.ndarray) -> pa.Array:
  """`f"{score:.6f}\\n"` of every float32 score, as an Arrow string array, no Python per score.

  A float32 times 10^6 is exact in float64 (24 + 20 significant bits), so
  `np.rint` (half to even) rounds the exact value as Python's `%.6f` does;
  the sign is the float's own (`-0.000000` for a negative score that rounds
  to zero, as Python writes it).

  Args:
    scores: float32 [n], finite.

  Returns:
    A string array of n texts.
  """
  scores = np.asarray(scores, np.float32)
  if len(scores) and float(np.abs(scores).max()) >= MAX_FAST_SCORE:
    return pa.array(["%.6f\n" % s for s in scores.tolist()], pa.string())
  millionths = np.abs(np.rint(scores.astype(np.float64) * SCORE_UNITS)).astype(np.int64)
  if not len(scores) or int(millionths.max()) <= SCORE_UNITS:  # cosines: from the table
    return _cosine_texts().take(pa.array(millionths + (SCORE_UNITS + 1) * np.signbit(scores)))
  return _formatted(scores)


def _formatted(scores: np.ndarray) -> pa.Array:
  """`score_texts` in Arrow kernels, for |scores| < MAX_FAST_SCORE (float32 or exact float64)."""
  millionths = np.abs(np.rint(scores.astype(np.float64) * SCORE_UNITS)).astype(np.int64)
  whole = pc.cast(pa.array(millionths // SCORE_UNITS), pa.string())
  fraction = pc.utf8_lpad(pc.cast(pa.array(millionths % SCORE_UNITS), pa.string()), 6, "0")
  sign = pc.take(pa.array(["", "-"]), pa.array(np.signbit(scores).astype(np.int8)))
  return pc.binary_join_element_wise(sign, whole, ".", fraction, "\n", "")


def _chunk_texts(table: RelatedTable, start: int, stop: int, num_shards: int, id_tabs: pa.Array,
                 rank_tabs: pa.Array) -> list[tuple[int, bytes]]:
  """`table_lines` of rows [start, stop), as one text per shard: (shard, its lines' UTF-8 bytes).

  The same lines in the same order per shard (a stable sort by shard of the
  key-ordered lines), assembled in Arrow without a Python string per line:
  the four pieces of every line (`id\\t`, `rank\\t`, `neighbour\\t`, `score\\n`)
  are taken and joined column-wise, and a shard's text is a slice of the
  joined array's data.
  """
  counts = table.counts[start:stop]
  k = table.neighbours.shape[1]
  real = np.arange(k)[None, :] < counts[:, None]
  queries, ranks = np.nonzero(real)
  neighbours = table.neighbours[start:stop][real]
  scores = table.scores[start:stop][real]
  if num_shards == 1:
    shards = np.zeros(len(queries), np.int64)
  else:
    shards = key_shards(table.ids[start:stop], k, num_shards)[real]
    order = np.argsort(shards.astype(np.int16) if num_shards < 1 << 15 else shards,
                       kind="stable")  # int16: a radix sort
    queries, ranks, neighbours, scores, shards = (
        queries[order], ranks[order], neighbours[order], scores[order], shards[order])
  lines = pc.binary_join_element_wise(
      id_tabs.take(pa.array(queries + start)), rank_tabs.take(pa.array(ranks)),
      id_tabs.take(pa.array(neighbours)), score_texts(scores), "")
  if not len(lines):
    return []
  offsets = np.frombuffer(lines.buffers()[1], np.int32, len(lines) + 1, lines.offset * 4)
  data = memoryview(lines.buffers()[2])
  bounds = np.searchsorted(shards, np.arange(num_shards + 1)).tolist()
  return [(shard, bytes(data[offsets[bounds[shard]]:offsets[bounds[shard + 1]]]))
          for shard in range(num_shards) if bounds[shard + 1] > bounds[shard]]


def write_table(table: RelatedTable, prefix: str, num_shards: int, header: str | None = HEADER,
                rows_per_chunk: int = 16384) -> list[str]:
  """Writes the table's rows as `sharded_io.write_sorted_shards_local` would, as it goes.

  A shard's rows sorted by key are its rows by id, then rank (an id has no
  control character, so the tab after it sorts before any of its
  characters): the rows are formatted `rows_per_chunk` ids at a time, in id
  order, and appended to their shard's temporary file, which is renamed
  into place once whole; then the manifest. Only one chunk's text is held
  (`_chunk_texts`: no string per line).

  Args:
    table: the related items.
    prefix: the output's path prefix (`OUT/related`).
    num_shards: the number of shards; every shard is written.
    header: first line of every shard, or None.
    rows_per_chunk: ids formatted at a time.

  Returns:
    The shards' paths, in shard order.
  """
  suffix = ".tsv"
  sharded_io.remove_shards(prefix, suffix)
  directory = os.path.dirname(prefix)
  sharded_io.ensure_dir(directory)
  paths = [sharded_io.shard_path(prefix, i, num_shards, suffix) for i in range(num_shards)]
  tmps = [FileSystems.join(directory, f".tmp-{uuid.uuid4().hex}-{os.path.basename(p)}")
          for p in paths]
  sums = [google_crc32c.Checksum() for _ in paths]
  sizes = [0] * num_shards
  files = [FileSystems.create(t) for t in tmps]
  try:
    def put(shard: int, data: bytes):
      files[shard].write(data)
      sums[shard].update(data)
      sizes[shard] += len(data)

    for shard in range(num_shards if header is not None else 0):
      put(shard, (header + "\n").encode("utf-8"))
    id_tabs = pa.array([f"{item_id}\t" for item_id in table.ids], pa.string())
    rank_tabs = pa.array([f"{rank}\t" for rank in range(1, table.neighbours.shape[1] + 1)],
                         pa.string())
    for start in range(0, len(table.ids), rows_per_chunk):
      stop = min(len(table.ids), start + rows_per_chunk)
      for shard, data in _chunk_texts(table, start, stop, num_shards, id_tabs, rank_tabs):
        put(shard, data)
  finally:
    for f in files:
      f.close()
  entries = []
  for path, tmp, crc, size in zip(paths, tmps, sums, sizes):
    if FileSystems.exists(path):
      FileSystems.delete([path])
    FileSystems.rename([tmp], [path])
    entries.append((os.path.basename(path), size, crc.hexdigest().decode("ascii")))
  sharded_io.write_manifest(prefix, suffix, num_shards, entries)
  return paths
