"""`csv_columns.read_block` gives the fields and weights the per-line rules give."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from pipelines.io import edge_records
from pipelines.io import csv_columns

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _expected(line: str, delimiter: str):
  src, dst, weight = edge_records.split_fields(line, delimiter)
  parsed = edge_records.parse_weight(weight) if weight else None
  return src.encode(), dst.encode(), math.nan if parsed is None else parsed


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_read_block_matches_the_line_rules(delimiter):
  rng = np.random.default_rng(0)
  lines = [f"n{a}{delimiter}m{b}{delimiter}{w}" for a, b, w in
           zip(rng.integers(0, 10**9, 3000), rng.integers(0, 99, 3000),
               np.round(rng.random(3000) * 50, 4))]
  odd = ["1_000", "", "1e999", "nan", "+.5e-3", "5.", "1e", "-2", "0x10", "00012"]
  for i, weight in enumerate(odd):
    lines[100 * i + 7] = f"a{i}{delimiter}b{i}{delimiter}{weight}"
  lines[5] = f"{delimiter}x{delimiter}1"
  body = ("\n".join(lines) + "\n").encode()
  assert csv_columns.is_plain(np.frombuffer(body, np.uint8), delimiter)
  columns = csv_columns.read_block(body, delimiter, len(lines))
  src, dst = (csv_columns.fixed_width(pa.concat_arrays(c)) for c in columns[:2])
  weight = columns.weight
  for i, line in enumerate(lines):
    want = _expected(line, delimiter)
    assert (src[i], dst[i]) == want[:2], line
    assert weight[i] == want[2] or (math.isnan(weight[i]) and math.isnan(want[2])), line


def test_weights_fall_back_to_float_when_arrow_refuses():
  weights = csv_columns.parse_weights(pa.array([b"2.5", b"1e", b"3"], pa.binary()))
  assert weights[0] == 2.5 and math.isnan(weights[1]) and weights[2] == 3.0


@pytest.mark.parametrize("text,delimiter,plain", [
    ("a,b,1\n", ",", True), ("a\tb\t1\n", "\t", True), ("a\tb,c\t1\n", "\t", True),
    ('"a",b,1\n', ",", False), ('"a"\tb\t1\n', "\t", True), ("a\tb,1\n", ",", False),
    ("a,b,1\r\n", ",", False), ("a, b,1\n", ",", False), ("a,b\x7f,1\n", ",", False),
    ("\xe9,b,1\n", ",", False), ("", ",", False)])
def test_is_plain(text, delimiter, plain):
  block = np.frombuffer(text.encode("latin-1"), np.uint8)
  assert csv_columns.is_plain(block, delimiter) == plain
  assert csv_columns.is_plain(block, delimiter, newlines=text.count("\n")) == plain


def test_read_block_refuses_a_line_of_other_than_three_fields():
  assert csv_columns.read_block(b"a,b,1\nc,d\ne,f,2\n", ",", 3) is None
  assert csv_columns.read_block(b"a,b,1,2\n", ",", 1) is None
  assert csv_columns.read_block(b"a,b,1\n", ",", 2) is None  # not the lines counted


def test_an_empty_line_is_a_row_of_empty_fields():
  columns = csv_columns.read_block(b"a,b,1\n\ne,f,2\n", ",", 3)
  assert [c.to_pylist() for c in columns.src] == [[b"a", b"", b"e"]]
  assert columns.weight[0] == 1 and np.isnan(columns.weight[1]) and columns.weight[2] == 2
  assert csv_columns.read_block(b"a,b,1,2\n", ",", 1) is None


def test_splitting_a_block_imports_neither_pyarrow_compute_nor_dateutil():
  # pyarrow.compute builds ~280 wrappers on import; converting an untyped Python value
  # (pa.scalar(True)) imports dateutil: ~60 ms of a small run's start-up between them.
  code = ("import json, sys\n"
          "import numpy as np\n"
          "from pipelines.io import csv_columns\n"
          "block = b'a,b,1\\nc,c,2\\nd,e,x\\n'\n"
          "out = csv_columns.split_block(block, ',', np.zeros(len(block), bool))\n"
          "assert len(out.weight) == 1 and len(out.lines) == 2, out\n"
          "print(json.dumps([m for m in ('pyarrow.compute', 'dateutil') if m in sys.modules]))\n")
  done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                        text=True, env={**os.environ, "PYTHONPATH": ROOT})
  assert json.loads(done.stdout.strip().splitlines()[-1]) == []
