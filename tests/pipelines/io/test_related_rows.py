"""`pipelines/io/related_rows.py`: the related-items rows (contract 7) and unit-norm rows."""

import numpy as np

from pipelines.io.related_rows import (HEADER, MAX_INDEX_BYTES, SEARCHES, IndexTooLargeError,
                                       format_rows, unit_rows)


def test_rows_rank_from_one_with_six_decimals_and_sort_by_rank():
  rows = format_rows("v1", [("v7", 0.9876543), ("v2", -0.5)])
  assert rows == [("v1\t000001", "v1\t1\tv7\t0.987654"), ("v1\t000002", "v1\t2\tv2\t-0.500000")]
  assert HEADER.split("\t") == ["id", "rank", "neighbor", "score"]
  assert format_rows("v1", []) == []


def test_rank_keys_sort_as_numbers():
  keys = [key for key, _ in format_rows("q", [(f"n{i}", 1.0) for i in range(12)])]
  assert sorted(keys) == keys and keys[9] == "q\t000010"


def test_unit_rows_scale_to_norm_one_and_keep_zero_rows():
  got = unit_rows([[3.0, 4.0], [0.0, 0.0], [0.0, -2.0]])
  assert got.dtype == np.float32
  assert np.array_equal(got, np.array([[0.6, 0.8], [0.0, 0.0], [0.0, -1.0]], np.float32))


def test_searches_and_the_broadcast_budget():
  assert SEARCHES == ("exact", "ivfpq")
  assert MAX_INDEX_BYTES == 2**30
  assert issubclass(IndexTooLargeError, ValueError)
