"""Edges for the in-memory engine: what `ReadEdges` gives, read without Beam.

`read_edges_local` splits text files into lines exactly as Beam's text source
does (`\\n` and `\\r\\n`; a last line without a newline counts), validates every
line with `edges.parse_text_edge` / `edges.parse_example_edge`, combines
duplicates like `EdgeWeightFn` and counts under the same stat names, so the
rejected records, counts and edges equal the Beam engine's.

Speed: files are read into one reused 64 MiB buffer, a block of whole lines
at a time. A block that
`csv_columns.is_plain` vouches for (printable ASCII, no whitespace but the
line breaks and tsv's tabs, no csv quote) and whose lines all have three
fields is split into columns by pyarrow's multithreaded CSV reader
(`csv_columns.read_block`). Any line the bulk path cannot vouch for (the first
line of a file, which may be a header; an empty id; a weight that is not an
ASCII decimal, or not finite and positive; a self loop) goes through the
per-line parser, as does every line of a block that fails the checks (CRLF
line breaks, RFC 4180 quoting, a BOM, a short or long row are the per-line
parser's). TFRecord files always take the per-record parser. Ids of up to 8
bytes are numbered by their varying bits (`id_numbering.number_short_ids`),
longer ids by `number_ids`. No Python object is made per line on the bulk
path.
"""

import collections
import contextlib
import dataclasses
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pipelines.io.file_system import FileSystems

from pipelines.errors import InputError
from pipelines.io import csv_columns, edge_records, id_numbering, tfrecord_files
from pipelines.io.pair_groups import group_pairs
from pipelines.io.rejected import Rejection, binary_record

BLOCK_BYTES = 64 << 20


@contextlib.contextmanager
def small_pages():
  """numpy's huge-page advice off inside the block (as `NUMPY_MADVISE_HUGEPAGE=0`).

  numpy advises the kernel to back each array of 4 MB or more with huge pages.
  Where transparent huge pages are on `defrag=madvise`, the kernel then
  compacts memory at the first touch of each fresh array: reading 10M edge
  lines spent 7 to 9 of its 10 CPU-seconds there. Small pages cost a fraction
  of that. Left alone when `NUMPY_MADVISE_HUGEPAGE` is set (the user's choice).

  Yields:
    None; numpy's previous setting is restored on the way out.
  """
  setter = getattr(getattr(getattr(np, "_core", None), "multiarray", None),
                   "_set_madvise_hugepage", None)
  if setter is None or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
    yield
    return
  previous = setter(False)
  try:
    yield
  finally:
    setter(previous)


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
  """Gathers edges (ids as pyarrow binary chunks), rejections and counts."""

  def __init__(self, stage: str):
    self.stage = stage
    self.src, self.dst, self.weight, self.pending = [], [], [], []
    self.rejections, self.counts = [], collections.Counter()
    self.buffer = None  # text files are read into it (`_blocks`)
    self.scratch = None  # a bool per byte of a block, reused by `_bulk_block`

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
      self.src.append(pa.array([x.encode("utf-8") for x in src], pa.binary()))
      self.dst.append(pa.array([x.encode("utf-8") for x in dst], pa.binary()))
      self.weight.append(np.array(weight, np.float64))
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


def _bulk_block(out: _Collector, block: memoryview, delimiter: str) -> None:
  """A block of whole lines (a memoryview), each ending in `\\n`."""
  arr = np.frombuffer(block, np.uint8)
  if out.scratch is None or len(out.scratch) < len(arr):  # one for every block and file
    out.scratch = np.empty(max(len(arr), BLOCK_BYTES), bool)
  lines = int(np.count_nonzero(np.equal(arr, 10, out=out.scratch[:len(arr)])))
  columns = csv_columns.read_block(block, delimiter, lines) if csv_columns.is_plain(
      arr, delimiter, out.scratch) else None
  if columns is None:
    _slow_lines(out, [x[:-1] if x.endswith(b"\r") else x
                      for x in bytes(block).split(b"\n")[:-1]], delimiter)
    return
  weight, row = columns.weight, 0
  bad = ~(np.isfinite(weight) & (weight > 0))
  for src, dst in zip(columns.src, columns.dst):
    n = len(src)
    same = pc.fill_null(pc.equal(src, dst), True).to_numpy(zero_copy_only=False)
    bad[row:row + n] |= (same | (np.diff(csv_columns.buffers(src)[0]) == 0)
                         | (np.diff(csv_columns.buffers(dst)[0]) == 0))
    row += n
  if bad.any():
    ends = np.flatnonzero(np.equal(arr, 10, out=out.scratch[:len(arr)]))
    starts = np.concatenate(([0], ends[:-1] + 1))
    _slow_lines(out, [bytes(block[starts[i]:ends[i]]) for i in np.flatnonzero(bad).tolist()],
                delimiter)
  row = 0
  for src, dst in zip(columns.src, columns.dst):
    keep = ~bad[row:row + len(src)]
    row += len(src)
    if not keep.all():
      src, dst = src.filter(pa.array(keep)), dst.filter(pa.array(keep))
    out.src.append(src)
    out.dst.append(dst)
  out.weight.append(weight[~bad])


def _fill(f, view: memoryview) -> int:
  """Reads into `view`; the bytes read (0 at the end of the file)."""
  readinto = getattr(f, "readinto", None)
  if readinto is not None:
    return readinto(view) or 0
  data = f.read(len(view))
  view[:len(data)] = data
  return len(data)


def _blocks(f, out: "_Collector"):
  """Yields blocks of whole lines (memoryviews of the reader's one buffer), then the rest.

  Args:
    f: the open file.
    out: the collector, whose `buffer` is reused from file to file (a fresh
      buffer per file would be zeroed, hence touched, every time).

  Yields:
    Memoryviews of whole lines; last, the bytes after the last newline (b""
    when none).
  """
  if out.buffer is None:
    out.buffer = bytearray(BLOCK_BYTES)
  buf, filled = out.buffer, 0
  while True:
    if filled == len(buf):  # a line longer than the buffer: a new, larger one
      buf = out.buffer = buf + bytes(len(buf))
    n = _fill(f, memoryview(buf)[filled:])
    end = filled + n
    cut = buf.rfind(b"\n", 0, end) + 1 if n else 0
    if cut:
      yield memoryview(buf)[:cut]
      buf[:end - cut] = buf[cut:end]
      filled = end - cut
    elif n:
      filled = end
    else:
      yield bytes(buf[:filled])
      return


def _read_text(out: _Collector, path: str, delimiter: str) -> None:
  with FileSystems.open(path) as f:
    first = True
    for block in _blocks(f, out):
      if isinstance(block, bytes):  # the bytes after the last newline: a last line
        if block:
          out.add_parsed(*_parse_line(block, delimiter))
        return
      if first:  # perhaps a header: the per-line parser's
        cut = block.obj.find(b"\n", 0, block.nbytes)  # the block starts the buffer
        line = bytes(block[:cut])
        _slow_lines(out, [line[:-1] if line.endswith(b"\r") else line], delimiter)
        block, first = block[cut + 1:], False
      if block.nbytes:
        _bulk_block(out, block, delimiter)


def _read_tfrecord(out: _Collector, path: str) -> None:
  for record in tfrecord_files.records_or_rejections(path, out.stage):
    if isinstance(record, Rejection):
      out.rejections.append(record)
    else:
      out.add_parsed(edge_records.parse_example_edge(record), binary_record(record))


def _numbered(src: list, dst: list):
  """(sorted ids as str, index of each src id, of each dst id) of binary id chunks."""
  m = sum(len(x) for x in src)
  chunks = src + dst
  numbered = id_numbering.number_short_ids(chunks)
  if numbered is not None:
    unique, index = numbered
  else:
    names = [csv_columns.fixed_width(c) for c in chunks if len(c)]
    unique, index = id_numbering.number_ids(np.concatenate(names) if names
                                            else np.zeros(0, "S1"))
  return [x.decode("utf-8") for x in unique.tolist()], index[:m], index[m:]


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
  with small_pages():
    return _read_edges(paths, edge_format, combine, stage)


def _read_edges(paths: list, edge_format: str, combine: str, stage: str) -> LocalEdges:
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
  ids, a, b = _numbered(out.src, out.dst)
  del out.src, out.dst
  weight = np.concatenate(out.weight) if out.weight else np.zeros(0)
  valid = len(a)
  lo = np.minimum(a, b)
  hi = np.maximum(a, b, out=a)  # a is not needed after
  del a, b
  with np.errstate(over="ignore"):
    src, dst, weight, occurrences = group_pairs(lo, hi, weight, max(1, len(ids)), combine)
  del lo, hi
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
