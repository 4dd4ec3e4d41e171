"""Clean blocks of edge lines split into columns by pyarrow's CSV reader.

`local_io` sends here only blocks it has checked: plain ASCII without
whitespace, quotes or control characters, every line ending in `\\n` with
exactly two delimiters. Such a block has no quoting, no BOM and no short or
long rows, so pyarrow's multithreaded reader (no quoting, no escapes, every
column binary) splits it into exactly the fields `edges.split_fields` gives.
Ids become fixed-width byte arrays without a Python object per field.
Weights are cast to float64 by pyarrow when every weight holds only the bytes
of the ASCII decimal syntax (`0-9 . e E + -`) and casts cleanly (arrow's
parser takes and rounds those strings exactly as `float` does); otherwise each
weight is parsed by `float`, and a weight that does not parse is NaN, which
sends its line to the exact per-line parser.
"""

import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

_WEIGHT_BYTES = b"0123456789.eE+-"
_NOT_WEIGHT = np.ones(256, bool)
_NOT_WEIGHT[np.frombuffer(_WEIGHT_BYTES, np.uint8)] = False


def _buffers(column: pa.Array):
  """(offsets int64, data uint8) of a binary array."""
  offsets_buffer, data_buffer = column.buffers()[1:3]
  offsets = np.frombuffer(offsets_buffer, np.int32, len(column) + 1, column.offset * 4)
  data = np.frombuffer(data_buffer, np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
  return offsets.astype(np.int64), data


def fixed_width(column: pa.Array) -> np.ndarray:
  """A binary array as a numpy `S<width>` array (no field may hold a NUL).

  Args:
    column: a pyarrow binary column.

  Returns:
    The numpy array.
  """
  offsets, data = _buffers(column)
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
    column: a pyarrow binary column of weights.

  Returns:
    A float64 array.
  """
  offsets, data = _buffers(column)
  if not _NOT_WEIGHT[data[offsets[0]:offsets[-1]]].any():
    try:
      return pc.cast(column.cast(pa.string()), pa.float64()).to_numpy(zero_copy_only=False)
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


def split_block(body: bytes, delimiter: str):
  """(src, dst, weight) of a checked block of `src<d>dst<d>weight\n` lines.

  Args:
    body: the block's bytes.
    delimiter: `,` or a tab.

  Returns:
    Two `S<width>` arrays and a float64 array (NaN: the line needs the
    per-line parser), one entry per line, in line order.
  """
  table = csv.read_csv(
      io.BytesIO(body),
      read_options=csv.ReadOptions(column_names=["src", "dst", "weight"], use_threads=True,
                                   block_size=1 << 22),
      parse_options=csv.ParseOptions(delimiter=delimiter, quote_char=False,
                                     double_quote=False, escape_char=False,
                                     newlines_in_values=False, ignore_empty_lines=False),
      convert_options=csv.ConvertOptions(
          column_types={"src": pa.binary(), "dst": pa.binary(), "weight": pa.binary()},
          strings_can_be_null=False, quoted_strings_can_be_null=False))
  table = table.combine_chunks()
  src, dst, weight = (table.column(i).chunk(0) if table.num_rows else pa.array([], pa.binary())
                      for i in range(3))
  return fixed_width(src), fixed_width(dst), parse_weights(weight)
