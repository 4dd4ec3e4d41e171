"""Edges for the in-memory engine: what `ReadEdges` gives, read without Beam.

`read_edges_local` splits text files into lines exactly as Beam's text source
does (`\\n` and `\\r\\n`; a last line without a newline counts), validates every
line with `edges.parse_text_edge` / `edges.parse_example_edge`, combines
duplicates like `EdgeWeightFn` and counts under the same stat names, so the
rejected records, counts and edges equal the Beam engine's.

Speed: files are read into reused 32 MiB buffers, a block of whole lines at
a time, and blocks are split on two threads (`csv_columns.split_block`;
results applied in file order). A block `csv_columns.is_plain` vouches for
(printable ASCII, no whitespace but the line breaks and tsv's tabs, no csv
quote) whose lines all have three fields is split into columns by pyarrow's
CSV reader. Any line the bulk path cannot vouch for (a file's first line,
perhaps a header; an empty id; a weight that is not an ASCII decimal, or not
finite and positive; a self loop) goes through the per-line parser, as does
every line of a block that fails the checks (CRLF line breaks, RFC 4180
quoting, a BOM, a short or long row). TFRecord files always take the
per-record parser. Ids of up to 8 bytes are numbered by their varying bits
(`id_numbering.number_short_ids`), longer ids by `number_ids`. No Python
object is made per line on the bulk path.
"""

import collections
import concurrent.futures
import contextlib
import dataclasses
import mmap
import os
import threading

import numpy as np
import pyarrow as pa
from pipelines.io.file_system import FileSystems

from pipelines.errors import InputError
from pipelines.io import csv_columns, edge_records, id_numbering, tfrecord_files
from pipelines.io.pair_groups import group_pairs
from pipelines.io.rejected import Rejection, binary_record

BLOCK_BYTES = 32 << 20
THREADS = 2  # blocks split at once


@contextlib.contextmanager
def small_pages():
  """numpy's huge-page advice off, and arrow on the system allocator, inside the block.

  numpy advises the kernel to back each array of 4 MB or more with huge pages
  (off as with `NUMPY_MADVISE_HUGEPAGE=0`), and arrow's default allocator,
  mimalloc, backs its segments with huge pages and hands freed ones back to
  the kernel within milliseconds. Where transparent huge pages are on
  `madvise`, each first touch then zeroes (and may compact) 2 MB: reading 10M
  edge lines spent 7 to 9 of its 10 CPU-seconds there before numpy's advice
  was turned off, and 0.8 to 2.7 of its 2 to 4 in mimalloc's pages after.
  Small pages cost a fraction of that. numpy is left alone when
  `NUMPY_MADVISE_HUGEPAGE` is set, arrow when `ARROW_DEFAULT_MEMORY_POOL` is
  (the user's choices).

  Yields:
    None; the previous settings are restored on the way out.
  """
  setter = getattr(getattr(getattr(np, "_core", None), "multiarray", None),
                   "_set_madvise_hugepage", None)
  numpy_set = setter is not None and "NUMPY_MADVISE_HUGEPAGE" not in os.environ
  pool = None if "ARROW_DEFAULT_MEMORY_POOL" in os.environ else pa.default_memory_pool()
  previous = setter(False) if numpy_set else None
  if pool is not None:
    pa.set_memory_pool(pa.system_memory_pool())
  try:
    yield
  finally:
    if numpy_set:
      setter(previous)
    if pool is not None:
      pa.set_memory_pool(pool)


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
    self.buffers = []  # read buffers free for reuse (`_blocks`), from file to file

  def take_buffer(self, size: int = 0) -> mmap.mmap:
    """A free read buffer of at least `size` bytes: anonymous memory, touched as data comes."""
    if self.buffers and len(self.buffers[-1]) >= size:
      return self.buffers.pop()
    return mmap.mmap(-1, max(size, BLOCK_BYTES))

  def add_parsed(self, result, shown: str) -> None:
    if isinstance(result, edge_records.Edge):
      self.pending.append(result)
      if len(self.pending) >= 65536:
        self.flush()
    elif result in (edge_records.HEADER, edge_records.BLANK):
      self.counts[f"edges/{result}_lines"] += 1
    else:
      self.rejections.append(Rejection(self.stage, result, shown))

  def add_block(self, block: csv_columns.Block, delimiter: str) -> None:
    _slow_lines(self, block.lines, delimiter)
    self.src.extend(block.src)
    self.dst.extend(block.dst)
    self.weight.append(block.weight)

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


def _fill(f, view: memoryview) -> int:
  """Reads into `view`; the bytes read (0 at the end of the file)."""
  readinto = getattr(f, "readinto", None)
  if readinto is not None:
    return readinto(view) or 0
  data = f.read(len(view))
  view[:len(data)] = data
  return len(data)


def _blocks(f, out: "_Collector"):
  """Yields blocks of whole lines (memoryviews of read buffers), then the rest.

  Each block's buffer is the caller's until it hands it back to
  `out.buffers`; the bytes after its last newline start the next buffer.

  Args:
    f: the open file.
    out: the collector, whose free buffers are reused.

  Yields:
    Memoryviews of whole lines; last, the bytes after the last newline (b""
    when none).
  """
  buf, filled = out.take_buffer(), 0
  while True:
    if filled == len(buf):  # a line longer than the buffer: a new, larger one
      buf, old = out.take_buffer(2 * len(buf)), buf
      buf[:filled] = old[:filled]
    n = _fill(f, memoryview(buf)[filled:])
    end = filled + n
    cut = buf.rfind(b"\n", 0, end) + 1 if n else 0
    if cut:
      rest = out.take_buffer(end - cut)
      rest[:end - cut] = buf[cut:end]
      yield memoryview(buf)[:cut]
      buf, filled = rest, end - cut
    elif n:
      filled = end
    else:
      out.buffers.append(buf)
      yield bytes(buf[:filled])  # the buffer is not written again before this is made
      return


def _split(block: memoryview, delimiter: str, scratch: threading.local) -> csv_columns.Block:
  """`csv_columns.split_block` with this thread's scratch array."""
  if getattr(scratch, "flags", None) is None or len(scratch.flags) < block.nbytes:
    scratch.flags = np.empty(max(block.nbytes, BLOCK_BYTES), bool)
  return csv_columns.split_block(block, delimiter, scratch.flags)


def _read_texts(out: _Collector, paths: list, delimiter: str) -> None:
  """Reads text files; blocks are split on THREADS threads, their results kept in order.

  A file's first line (perhaps a header) and its last line without a
  newline go to the per-line parser; the queue holds them and the split
  blocks in file and line order, so rejections come in the order of a
  reader on one thread.
  """
  queue, scratch = collections.deque(), threading.local()

  def settle(most: int) -> None:  # applies queued results until `most` blocks are left (-1: all)
    while queue and sum(1 for x in queue if not isinstance(x, list)) > most:
      item = queue.popleft()
      if isinstance(item, list):
        _slow_lines(out, item, delimiter)
      else:
        out.add_block(item[0].result(), delimiter)
        out.buffers.append(item[1])

  with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
    for path in paths:
      try:
        with FileSystems.open(path) as f:
          first = True
          for block in _blocks(f, out):
            if isinstance(block, bytes):  # the bytes after the last newline: a last line
              if block:
                queue.append([block])
              break
            if first:  # perhaps a header: the per-line parser's
              cut = block.obj.find(b"\n", 0, block.nbytes)  # the block starts the buffer
              line = bytes(block[:cut])
              queue.append([line[:-1] if line.endswith(b"\r") else line])
              block, first = block[cut + 1:], False
            if block.nbytes:
              queue.append((pool.submit(_split, block, delimiter, scratch), block.obj))
            else:
              out.buffers.append(block.obj)
            settle(THREADS)
      except OSError as e:
        raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
    settle(-1)


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
  with small_pages():
    return _read_edges(paths, edge_format, combine, stage)


def _read_edges(paths: list, edge_format: str, combine: str, stage: str) -> LocalEdges:
  out = _Collector(stage)
  if edge_format != "tfrecord":
    _read_texts(out, paths, "," if edge_format == "csv" else "\t")
  for path in paths if edge_format == "tfrecord" else ():
    try:
      _read_tfrecord(out, path)
    except OSError as e:
      raise InputError(f"cannot read {path}: {e.__class__.__name__}: {e}") from None
  out.flush()
  unique, a, b = id_numbering.number_edge_ends(out.src, out.dst)
  del out.src, out.dst
  weight = np.concatenate(out.weight) if out.weight else np.zeros(0)
  valid = len(a)
  lo = np.minimum(a, b)
  hi = np.maximum(a, b, out=a)  # a is not needed after
  del a, b
  with concurrent.futures.ThreadPoolExecutor(1) as pool:  # ids decoded while pairs are grouped
    decoding = pool.submit(lambda: [x.decode("utf-8") for x in unique.tolist()])
    with np.errstate(over="ignore"):
      src, dst, weight, occurrences = group_pairs(lo, hi, weight, max(1, len(unique)), combine)
    del lo, hi
    ids = decoding.result()
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
