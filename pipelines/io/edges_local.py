"""Edges for the in-memory engine: what `ReadEdges` gives, read without Beam.

`read_edges_local` splits text files into lines exactly as Beam's text source
does (`\\n` and `\\r\\n`; a last line without a newline counts), validates every
line with `edges.parse_text_edge` / `edges.parse_example_edge`, combines
duplicates like `EdgeWeightFn` and counts under the same stat names, so the
rejected records, counts and edges equal the Beam engine's.

Speed: a block of text (8 MiB) whose bytes are plain ASCII with no whitespace
other than the line breaks (and tabs for tsv), and whose lines all have three
fields, is split into columns by pyarrow's multithreaded CSV reader
(`csv_columns`: no quoting, binary columns, ids as fixed-width arrays,
weights cast by arrow when they are plain ASCII decimals). Any line the bulk
path cannot vouch for (the first line of a block, which may be a header; an
empty id; a weight that is not an ASCII decimal, or not finite and positive;
a self loop) goes through the per-line parser, as does every line of a block
that fails the block checks (for csv, a block holding a quote `"` or a byte
order mark: RFC 4180 quoting and the BOM are the per-line parser's). TFRecord
files always take the per-record parser. Ids are numbered without a dict:
`number_ids` indexes a table by the bits that vary among the ids, or sorts
packed or hashed ids; an id never holds a NUL, since ids
with control characters are rejected as `id_control_character`.
"""

import collections
import dataclasses

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipelines.io import edges as edges_lib
from pipelines.io import sharded_io, tfrecord_files
from pipelines.clustering import affinity_local
from pipelines.io import csv_columns
from pipelines.errors import InputError
from pipelines.io.rejected import Rejection, binary_record, rejected_prefix

BLOCK_BYTES = 8 << 20
# Bytes that send a block to the line-by-line parser: control characters
# (`id_control_character`, and str.strip() whitespace), space, DEL and
# everything non-ASCII. The newline ends lines; the delimiter is cleared per file.
_NOT_PLAIN = np.zeros(256, bool)
_NOT_PLAIN[:33] = True
_NOT_PLAIN[10] = False
_NOT_PLAIN[127:] = True


@dataclasses.dataclass
class LocalEdges:
  """Unique edges: ids sorted (Python order); src < dst index into ids."""
  ids: list
  src: np.ndarray
  dst: np.ndarray
  weight: np.ndarray
  rejections: list
  stats: dict


class _Collector:
  """Gathers edges (ids as bytes arrays), rejections and counts."""

  def __init__(self, stage: str):
    self.stage = stage
    self.src, self.dst, self.weight, self.pending = [], [], [], []
    self.rejections, self.counts = [], collections.Counter()

  def add_bulk(self, src, dst, weight: np.ndarray) -> None:
    self.src.append(np.asarray(src, dtype="S"))
    self.dst.append(np.asarray(dst, dtype="S"))
    self.weight.append(weight)

  def add_parsed(self, result, shown: str) -> None:
    if isinstance(result, edges_lib.Edge):
      self.pending.append(result)
      if len(self.pending) >= 65536:
        self.flush()
    elif result in (edges_lib.HEADER, edges_lib.BLANK):
      self.counts[f"edges/{result}_lines"] += 1
    else:
      self.rejections.append(Rejection(self.stage, result, shown))

  def flush(self) -> None:
    if self.pending:
      src, dst, weight = zip(*self.pending)  # ids hold no NUL (id_control_character)
      self.add_bulk([x.encode("utf-8") for x in src], [x.encode("utf-8") for x in dst],
                    np.array(weight, np.float64))
      self.pending = []


def _mix(words: np.ndarray) -> np.ndarray:
  """A 64-bit hash of each row of 8-byte words (for grouping; collisions are checked)."""
  h = np.full(len(words), 0x9E3779B97F4A7C15, np.uint64)
  for j in range(words.shape[1]):
    h ^= words[:, j]
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
  return h


def _varying_bits_key(words: np.ndarray, budget: int):
  """An exact key in the rows' order from the bits that vary among them, or None.

  A bit that holds the same value in every row decides no comparison, so the
  varying bits of big-endian words, packed in order, compare as the rows do.
  Each byte keeps the span from its lowest to its highest varying bit (ids of
  `v` and six digits: 4 bits per digit, 24 in all).

  Args:
    words: (rows, k) uint64, the rows as big-endian 8-byte words.
    budget: the most bits the key may take.

  Returns:
    (uint64 keys, bits used), or None when the varying bits need more than
    `budget`.
  """
  key = np.zeros(len(words), np.uint64)
  part = np.empty_like(key)
  used = 0
  for j in range(words.shape[1]):
    column = np.ascontiguousarray(words[:, j])
    varying = int(np.bitwise_or.reduce(column ^ column[0]))
    for shift in range(56, -8, -8):
      byte = (varying >> shift) & 0xFF
      if not byte:
        continue
      low = (byte & -byte).bit_length() - 1
      bits = byte.bit_length() - low
      used += bits
      if used > budget:
        return None
      np.right_shift(column, np.uint64(shift + low), out=part)
      np.bitwise_and(part, np.uint64((1 << bits) - 1), out=part)
      np.left_shift(key, np.uint64(bits), out=key)
      np.bitwise_or(key, part, out=key)
  return key, used


def _number_by_table(names: np.ndarray, key: np.ndarray, bits: int):
  """number_ids without a sort: a table of all 2**bits exact keys marks those present."""
  present = np.zeros(1 << bits, bool)
  present[key] = True
  rank = np.cumsum(present, dtype=np.int64) - 1
  row = np.empty(1 << bits, np.int64)
  row[key] = np.arange(len(names))  # any row of a key: equal keys are equal ids
  return names[row[present]], rank[key]


def number_ids(names: np.ndarray):
  """(sorted unique ids as bytes, index of each name among them), ids in UTF-8.

  The ids' varying bits (`_varying_bits_key`), when they are few (a table of
  2**bits entries at most twice the names), index a table of the keys present
  (no sort); when they fit in one integer with the row number, they are sorted
  with it in one pass (no argsort). Otherwise ids of up to 8 bytes are packed
  big-endian into one integer (exact, in string order) and argsorted; longer
  ids are grouped by a 64-bit hash, checked for collisions, then the distinct
  ids sorted.
  """
  width = names.dtype.itemsize
  words = names.astype(f"S{-(-width // 8) * 8}").view(">u8").reshape(len(names), -1)
  words = words.astype(np.uint64)
  index_bits = max(1, (len(names) - 1).bit_length())
  compact = _varying_bits_key(words, 64 - index_bits) if len(names) else None
  exact = compact is not None
  if exact and 1 << compact[1] <= max(1 << 20, 2 * len(names)):
    return _number_by_table(names, *compact)
  key = compact[0] if exact else None
  if exact:
    key <<= np.uint64(index_bits)
    key |= np.arange(len(names), dtype=np.uint64)
    key.sort()
    order = (key & np.uint64((1 << index_bits) - 1)).astype(np.int64)
    key >>= np.uint64(index_bits)
  else:
    key = words[:, 0] if width <= 8 else _mix(words)
    order = np.argsort(key)
    key = key[order]
  del words
  new = np.concatenate(([True], key[1:] != key[:-1])) if len(key) else np.zeros(0, bool)
  del key
  index = np.empty(len(names), np.int64)
  index[order] = np.cumsum(new) - 1
  unique = names[order[new]]
  del order, new
  if width > 8 and not exact:
    if not np.array_equal(unique[index], names):
      raise InputError("too many edge ids for the in-memory reader (64-bit hash collision); "
                       "use --engine=beam")
    by_name = np.argsort(unique, kind="stable")
    rank = np.empty(len(unique), np.int64)
    rank[by_name] = np.arange(len(unique))
    unique, index = unique[by_name], rank[index]
  return unique, index


def _parse_line(raw: bytes, delimiter: str):
  try:
    line = raw.decode("utf-8")
  except UnicodeDecodeError:
    return edges_lib.NOT_UTF8, raw.decode("utf-8", errors="replace")
  return edges_lib.parse_text_edge(line, delimiter), line


def _slow_lines(out: _Collector, lines: list, delimiter: str) -> None:
  for raw in lines:
    out.add_parsed(*_parse_line(raw, delimiter))


def _bulk_block(out: _Collector, block: bytes, delimiter: str) -> None:
  """A block of whole lines, each ending in `\\n`."""
  arr = np.frombuffer(block, np.uint8)
  sep = delimiter.encode()
  not_plain = _NOT_PLAIN.copy()
  not_plain[ord(sep)] = False
  not_plain[ord('"')] = delimiter == ","  # csv quoting
  lines = block.split(b"\n")[:-1]
  seps_before = np.searchsorted(np.flatnonzero(arr == ord(sep)), np.flatnonzero(arr == 10))
  if len(lines) < 2 or (np.diff(seps_before) != 2).any() or not_plain[arr].any():
    _slow_lines(out, [x[:-1] if x.endswith(b"\r") else x for x in lines], delimiter)
    return
  _slow_lines(out, lines[:1], delimiter)  # perhaps a header
  src, dst, weight = csv_columns.split_block(block[len(lines[0]) + 1:], delimiter)
  bad = ~(np.isfinite(weight) & (weight > 0)) | (src == dst) | (src == b"") | (dst == b"")
  if bad.any():
    _slow_lines(out, [lines[1 + i] for i in np.flatnonzero(bad).tolist()], delimiter)
    src, dst, weight = src[~bad], dst[~bad], weight[~bad]
  out.add_bulk(src, dst, weight)


def _read_text(out: _Collector, path: str, delimiter: str) -> None:
  with FileSystems.open(path) as f:
    rest = b""
    while True:
      data = f.read(BLOCK_BYTES)
      if not data:
        break
      data = rest + data
      cut = data.rfind(b"\n") + 1
      rest = data[cut:]
      if cut:
        _bulk_block(out, data[:cut], delimiter)
    if rest:  # a last line without a newline
      out.add_parsed(*_parse_line(rest, delimiter))


def _read_tfrecord(out: _Collector, path: str) -> None:
  for record in tfrecord_files.records_or_rejections(path, out.stage):
    if isinstance(record, Rejection):
      out.rejections.append(record)
    else:
      out.add_parsed(edges_lib.parse_example_edge(record), binary_record(record))


def read_edges_local(paths: list, edge_format: str, combine: str = "max",
                     stage: str = "validate") -> LocalEdges:
  """Reads, validates and combines edges like `ReadEdges(min_weight=0)`."""
  if combine not in ("max", "sum"):
    raise InputError(f"--edge_combine must be max or sum, got {combine!r}")
  out = _Collector(stage)
  for path in paths:
    try:
      if edge_format == "tfrecord":
        _read_tfrecord(out, path)
      else:
        _read_text(out, path, "," if edge_format == "csv" else "\t")
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
  out.flush()
  m = sum(len(x) for x in out.src)
  unique, index = number_ids(np.concatenate(out.src + out.dst) if m else np.zeros(0, "S1"))
  del out.src, out.dst
  ids = [x.decode("utf-8") for x in unique.tolist()]
  a, b = index[:m], index[m:]
  weight = np.concatenate(out.weight) if out.weight else np.zeros(0)
  with np.errstate(over="ignore"):
    src, dst, weight, occurrences = affinity_local.group_pairs(
        np.minimum(a, b), np.maximum(a, b), weight, max(1, len(ids)), combine)
  valid = len(a)
  overflow = ~np.isfinite(weight)
  if overflow.any():  # as ReadEdges: one weight_sum_overflow per edge, its records not valid
    for i in np.flatnonzero(overflow).tolist():
      out.rejections.append(edges_lib.overflow_rejection(
          stage, ids[src[i]], ids[dst[i]], int(occurrences[i])))
    valid -= int(occurrences[overflow].sum())
    src, dst, weight = src[~overflow], dst[~overflow], weight[~overflow]
  stats = dict(out.counts)
  if len(src):
    stats.update({"edges/valid_records": valid, "edges/duplicates_combined": valid - len(src),
                  "edges/unique_edges": len(src)})
  return LocalEdges(ids, src, dst, weight, out.rejections, stats)


def write_rejected_local(output_dir: str, stage: str, rejections: list) -> dict:
  """Writes rejected/<stage>-*.tsv as `WriteRejected` does; returns the counts."""
  lines = [r.line() for r in rejections]
  sharded_io.write_sorted_shards_local(((x, x) for x in lines),
                                       rejected_prefix(output_dir, stage), ".tsv", 1)
  return dict(collections.Counter(f"rejected/{r.reason}" for r in rejections))
