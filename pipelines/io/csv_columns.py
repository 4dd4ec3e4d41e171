"""Clean blocks of edge lines split into columns by pyarrow's CSV reader.

`edges_local` sends here blocks of whole lines, each ending in `\\n`.
`is_plain` vouches for a block: plain ASCII without whitespace (but the line
breaks, and tabs for tsv), control characters, DEL or (for csv) quotes. Such
a block has no quoting, no BOM and no `\\r`, so pyarrow's reader
(no quoting, no escapes, every column binary) splits it into exactly the
fields `edge_records.split_fields` gives; a line with one to three fields
but not three makes the reader refuse the block (`read_block` gives None), and
the caller parses it line by line; an empty line is a row of empty fields (its
empty ids send it to the per-line parser). Weights are cast to float64 by pyarrow when every
weight of a chunk holds only the bytes of the ASCII decimal syntax
(`0-9 . e E + -`) and casts cleanly (arrow's parser takes and rounds those
strings exactly as `float` does); otherwise each weight is parsed by `float`,
and a weight that does not parse is NaN, which sends its line to the exact
per-line parser. `split_block` does all of this for one block on the calling
thread (arrow and numpy release the GIL): `edges_local` splits blocks on two
threads, so both cores work. The arrow kernels used (cast, equal, coalesce,
filter) are called through `pyarrow._compute.call_function`, the function
`pyarrow.compute`'s wrappers call, with the options those wrappers pass:
importing `pyarrow.compute` builds a Python wrapper and docstring for each of
its ~280 kernels (~40 ms of every run's start-up).
"""

from typing import NamedTuple

import numpy as np
import pyarrow as pa
from pyarrow import csv
from pyarrow._compute import CastOptions, call_function  # pylint: disable=no-name-in-module

_WEIGHT_BYTES = b"0123456789.eE+-"
_TRUE = pa.scalar(True, pa.bool_())  # typed: converting a Python value would import dateutil


class Columns(NamedTuple):
  """A block's fields: binary chunks of ids, and one float64 weight per line."""
  src: list  # pa.BinaryArray chunks
  dst: list
  weight: np.ndarray  # NaN: the line needs the per-line parser


def is_plain(block: np.ndarray, delimiter: str, scratch: np.ndarray | None = None,
             newlines: int | None = None) -> bool:
  """Whether a block (uint8, whole lines) holds only bytes the bulk path may split.

  Args:
    block: the block's bytes as uint8.
    delimiter: `,` or a tab.
    scratch: a bool array at least as long as the block, reused for the
      comparisons (fresh arrays are made when None).
    newlines: the block's count of `\n` when the caller has it (counted
      here when None).

  Returns:
    True when every byte is printable ASCII but line breaks (and tabs for
    tsv), with no quote in csv.
  """
  if not len(block) or int(block.max()) > 126:
    return False
  flags = None if scratch is None else scratch[:len(block)]
  separators = np.count_nonzero(np.equal(block, 10, out=flags)) if newlines is None else newlines
  if delimiter == "\t":
    separators += np.count_nonzero(np.equal(block, 9, out=flags))
  elif np.count_nonzero(np.equal(block, 34, out=flags)):
    return False
  return int(np.count_nonzero(np.less(block, 33, out=flags))) == int(separators)


def buffers(column: pa.Array):
  """(offsets int32, data uint8) of a binary array, without copies.

  Args:
    column: a pyarrow binary array.

  Returns:
    The offsets (len + 1) and the data buffer.
  """
  offsets_buffer, data_buffer = column.buffers()[1:3]
  offsets = np.frombuffer(offsets_buffer, np.int32, len(column) + 1, column.offset * 4)
  data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
  return offsets, data


def fixed_width(column: pa.Array) -> np.ndarray:
  """A binary array as a numpy `S<width>` array (no field may hold a NUL).

  Args:
    column: a pyarrow binary array.

  Returns:
    The numpy array.
  """
  offsets, data = buffers(column)
  lengths = np.diff(offsets)
  width = max(1, int(lengths.max()) if len(lengths) else 1)
  out = np.zeros((len(lengths), width), np.uint8)
  rows = np.repeat(np.arange(len(lengths)), lengths)
  cols = np.arange(offsets[-1] - offsets[0]) - np.repeat(offsets[:-1] - offsets[0], lengths)
  out[rows, cols] = data[offsets[0]:offsets[-1]]
  return out.view(f"S{width}").reshape(-1)


def parse_weights(column: pa.Array) -> np.ndarray:
  """Weights as float64; NaN where a weight is empty or not an ASCII decimal.

  Args:
    column: a pyarrow binary array of weights.

  Returns:
    A float64 array.
  """
  offsets, data = buffers(column)
  if not data[offsets[0]:offsets[-1]].tobytes().translate(None, _WEIGHT_BYTES):  # all decimal
    try:
      return call_function("cast", [column], CastOptions.safe(pa.float64())).to_numpy(
          zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
      pass
  out = np.full(len(column), np.nan)
  for i, w in enumerate(column.to_pylist()):
    if not w.translate(None, _WEIGHT_BYTES):
      try:
        out[i] = float(w)
      except ValueError:
        pass
  return out


def read_block(body, delimiter: str, lines: int):
  """The columns of a plain block (`is_plain`) of `src<d>dst<d>weight\\n` lines.

  Args:
    body: the block's bytes (bytes or memoryview).
    delimiter: `,` or a tab.
    lines: the block's line count (its `\\n`s).

  Returns:
    Columns, one entry per line in line order, or None when a line has
    other than three fields (the caller then parses the block line by line).
  """
  try:
    table = csv.read_csv(
        pa.BufferReader(pa.py_buffer(body)),
        read_options=csv.ReadOptions(column_names=["src", "dst", "weight"], use_threads=False,
                                     block_size=1 << 22),
        parse_options=csv.ParseOptions(delimiter=delimiter, quote_char=False,
                                       double_quote=False, escape_char=False,
                                       newlines_in_values=False, ignore_empty_lines=False),
        convert_options=csv.ConvertOptions(
            column_types={"src": pa.binary(), "dst": pa.binary(), "weight": pa.binary()},
            strings_can_be_null=False, quoted_strings_can_be_null=False))
  except pa.ArrowInvalid:
    return None
  if table.num_rows != lines:
    return None
  src, dst, weight = (table.column(i).chunks for i in range(3))
  weights = [parse_weights(w) for w in weight]
  return Columns(src, dst, np.concatenate(weights) if weights else np.zeros(0))


class Block(NamedTuple):
  """A block's edges the bulk path vouches for, and the lines it leaves to the per-line parser."""
  src: list  # pa.BinaryArray chunks
  dst: list
  weight: np.ndarray
  lines: list  # raw lines (bytes, no line break), in line order


def split_block(block, delimiter: str, scratch: np.ndarray) -> Block:
  """Splits a block of whole lines, each ending in `\\n`, into columns where it can.

  A block `is_plain` vouches for, all of whose lines have three fields, is
  split by `read_block`; of its lines, those with an empty id, a self loop
  or a weight that is not a finite positive ASCII decimal are left to the
  per-line parser. Any other block is left to it whole (a `\\r` before a
  line break dropped, as Beam's text source does).

  Args:
    block: the block (bytes or memoryview).
    delimiter: `,` or a tab.
    scratch: a bool array at least as long as the block, reused.

  Returns:
    The Block.
  """
  arr = np.frombuffer(block, np.uint8)
  flags = scratch[:len(arr)]
  lines = int(np.count_nonzero(np.equal(arr, 10, out=flags)))
  plain = is_plain(arr, delimiter, scratch, lines)
  columns = read_block(block, delimiter, lines) if plain else None
  if columns is None:
    return Block([], [], np.zeros(0), [x[:-1] if x.endswith(b"\r") else x
                                       for x in bytes(block).split(b"\n")[:-1]])
  weight, row = columns.weight, 0
  bad = ~(np.isfinite(weight) & (weight > 0))
  for src, dst in zip(columns.src, columns.dst):
    n = len(src)
    same = call_function("coalesce", [call_function("equal", [src, dst]), _TRUE])
    same = same.to_numpy(zero_copy_only=False)  # a null (never: no field is null) counts as equal
    bad[row:row + n] |= (same | (np.diff(buffers(src)[0]) == 0)
                         | (np.diff(buffers(dst)[0]) == 0))
    row += n
  slow = []
  if bad.any():
    ends = np.flatnonzero(np.equal(arr, 10, out=flags))
    starts = np.concatenate(([0], ends[:-1] + 1))
    slow = [bytes(block[starts[i]:ends[i]]) for i in np.flatnonzero(bad).tolist()]
  src_kept, dst_kept, row = [], [], 0
  for src, dst in zip(columns.src, columns.dst):
    keep = ~bad[row:row + len(src)]
    row += len(src)
    if not keep.all():
      mask = pa.array(keep)
      src, dst = call_function("filter", [src, mask]), call_function("filter", [dst, mask])
    src_kept.append(src)
    dst_kept.append(dst)
  return Block(src_kept, dst_kept, weight[~bad], slow)
