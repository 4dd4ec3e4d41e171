"""`csv_columns.split_block` gives the fields and weights the per-line rules give."""

import math

import numpy as np
import pytest

from pipelines.io import edge_records
from pipelines.io import csv_columns


def _expected(line: str, delimiter: str):
  src, dst, weight = edge_records.split_fields(line, delimiter)
  parsed = edge_records.parse_weight(weight) if weight else None
  return src.encode(), dst.encode(), math.nan if parsed is None else parsed


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_split_block_matches_the_line_rules(delimiter):
  rng = np.random.default_rng(0)
  lines = [f"n{a}{delimiter}m{b}{delimiter}{w}" for a, b, w in
           zip(rng.integers(0, 10**9, 3000), rng.integers(0, 99, 3000),
               np.round(rng.random(3000) * 50, 4))]
  odd = ["1_000", "", "1e999", "nan", "+.5e-3", "5.", "1e", "-2", "0x10", "00012"]
  for i, weight in enumerate(odd):
    lines[100 * i + 7] = f"a{i}{delimiter}b{i}{delimiter}{weight}"
  lines[5] = f"{delimiter}x{delimiter}1"
  src, dst, weight = csv_columns.split_block(("\n".join(lines) + "\n").encode(), delimiter)
  for i, line in enumerate(lines):
    want = _expected(line, delimiter)
    assert (src[i], dst[i]) == want[:2], line
    assert weight[i] == want[2] or (math.isnan(weight[i]) and math.isnan(want[2])), line


def test_weights_fall_back_to_float_when_arrow_refuses():
  import pyarrow as pa  # pylint: disable=import-outside-toplevel
  weights = csv_columns.parse_weights(pa.array([b"2.5", b"1e", b"3"], pa.binary()))
  assert weights[0] == 2.5 and math.isnan(weights[1]) and weights[2] == 3.0
