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
files always take the per-record parser. Ids are numbered without a dict
(`id_numbering.number_ids`).
"""

import collections
import dataclasses

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipelines.io import edge_records
from pipelines.io import sharded_io, tfrecord_files
from pipelines.clustering import affinity_local
from pipelines.io import csv_columns
from pipelines.io.id_numbering import number_ids
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
    if isinstance(result, edge_records.Edge):
      self.pending.append(result)
      if len(self.pending) >= 65536:
        self.flush()
    elif result in (edge_records.HEADER, edge_records.BLANK):
      self.counts[f"edges/{result}_lines"] += 1
    else:
      self.rejections.append(Rejection(self.stage, result, shown))

  def flush(self) -> None:
    if self.pending:
      src, dst, weight = zip(*self.pending)  # ids hold no NUL (id_control_character)
      self.add_bulk([x.encode("utf-8") for x in src], [x.encode("utf-8") for x in dst],
                    np.array(weight, np.float64))
      self.pending = []


def _parse_line(raw: bytes, delimiter: str):
  try:
    line = raw.decode("utf-8")
  except UnicodeDecodeError:
    return edge_records.NOT_UTF8, raw.decode("utf-8", errors="replace")
  return edge_records.parse_text_edge(line, delimiter), line


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
      out.add_parsed(edge_records.parse_example_edge(record), binary_record(record))


def read_edges_local(paths: list, edge_format: str, combine: str = "max",
                     stage: str = "validate") -> LocalEdges:
  """Reads, validates and combines edges like `ReadEdges(min_weight=0)`.

  Args:
    paths: the edge files.
    edge_format: csv, tsv or tfrecord.
    combine: max or sum.
    stage: the stage name, for rejections.

  Returns:
    The LocalEdges: numbered ids, edge arrays, counts and rejections.
  """
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
      out.rejections.append(edge_records.overflow_rejection(
          stage, ids[src[i]], ids[dst[i]], int(occurrences[i])))
    valid -= int(occurrences[overflow].sum())
    src, dst, weight = src[~overflow], dst[~overflow], weight[~overflow]
  stats = dict(out.counts)
  if len(src):
    stats.update({"edges/valid_records": valid, "edges/duplicates_combined": valid - len(src),
                  "edges/unique_edges": len(src)})
  return LocalEdges(ids, src, dst, weight, out.rejections, stats)


def write_rejected_local(output_dir: str, stage: str, rejections: list) -> dict:
  """Writes rejected/<stage>-*.tsv as `WriteRejected` does; returns the counts.

  Args:
    output_dir: the stage's output folder.
    stage: the stage name.
    rejections: the Rejections.

  Returns:
    `rejected/<reason>` -> count.
  """
  lines = [r.line() for r in rejections]
  sharded_io.write_sorted_shards_local(((x, x) for x in lines),
                                       rejected_prefix(output_dir, stage), ".tsv", 1)
  return dict(collections.Counter(f"rejected/{r.reason}" for r in rejections))
