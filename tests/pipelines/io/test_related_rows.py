"""`pipelines/io/related_rows.py`: the related-items rows (contract 7) and unit-norm rows."""

import numpy as np
import pytest

from pipelines.io import related_rows, sharded_io

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
  assert SEARCHES == ("exact", "ivfpq", "ivfflat")
  assert MAX_INDEX_BYTES == 2**30
  assert issubclass(IndexTooLargeError, ValueError)


def _table():
  """Three ids; "b" found no neighbour; scores that round at the sixth decimal."""
  table = related_rows.empty_table(["a", "b", "é\u4e2d"], 3)
  table.neighbours[0, :2] = [2, 1]
  table.scores[0, :2] = [0.5, -0.1234565]
  table.neighbours[2, :3] = [0, 1, 0]
  table.scores[2, :3] = [2.5e-7, 1.0, -1.0]
  table.counts[:] = [2, 0, 3]
  return table


def test_table_lines_are_format_rows_in_key_order():
  table = _table()
  want = (format_rows("a", [("é\u4e2d", np.float32(0.5)), ("b", np.float32(-0.1234565))])
          + format_rows("é\u4e2d", [("a", np.float32(2.5e-7)), ("b", 1.0), ("a", -1.0)]))
  lines, shards = related_rows.table_lines(table, 0, 3)
  assert lines == [line for _, line in want]
  assert lines[0] == "a\t1\té\u4e2d\t0.500000" and lines[2] == "é\u4e2d\t1\ta\t0.000000"
  assert shards.tolist() == [0] * 5
  assert related_rows.table_lines(table, 1, 2)[0] == []


def test_key_shards_are_the_crc_of_each_key():
  ids = ["a", "é\u4e2d", "item-0042", "x" * 300]
  got = related_rows.key_shards(ids, 12, 7)
  want = [[sharded_io.shard_index(f"{i}\t{rank:06d}", 7) for rank in range(1, 13)] for i in ids]
  assert got.tolist() == want


@pytest.mark.parametrize("num_shards,rows_per_chunk", [(1, 2), (3, 1), (4, 16384)])
def test_write_table_writes_the_bytes_of_the_sorted_shard_writer(tmp_path, num_shards,
                                                                 rows_per_chunk):
  table = _table()
  lines, _ = related_rows.table_lines(table, 0, 3)
  records = [(f"{line.split(chr(9))[0]}\t{int(line.split(chr(9))[1]):06d}", line)
             for line in lines]
  sharded_io.write_sorted_shards_local(records[::-1], str(tmp_path / "want" / "related"),
                                       ".tsv", num_shards, sharded_io.TEXT, HEADER)
  (tmp_path / "got").mkdir()
  (tmp_path / "got" / "related-00000-of-00009.tsv").write_text("stale")
  related_rows.write_table(table, str(tmp_path / "got" / "related"), num_shards,
                           rows_per_chunk=rows_per_chunk)
  want = {p.name: p.read_bytes() for p in (tmp_path / "want").iterdir()}
  got = {p.name: p.read_bytes() for p in (tmp_path / "got").iterdir()}
  assert got == want and len(want) == num_shards + 1


def test_write_table_many_shards_and_chunks_against_format_rows(tmp_path):
  rng = np.random.default_rng(5)
  ids = sorted({f"item-{j * 7919 % 1000:03d}" + "é" * (j % 3) for j in range(300)})
  table = related_rows.empty_table(ids, 7)
  table.neighbours[:] = rng.integers(0, len(ids), table.neighbours.shape)
  table.scores[:] = rng.normal(size=table.scores.shape).astype(np.float32)
  table.counts[:] = rng.integers(0, 8, len(ids))
  records = [kv for i, item_id in enumerate(ids) for kv in format_rows(
      item_id, [(ids[n], s) for n, s in zip(table.neighbours[i, :table.counts[i]].tolist(),
                                            table.scores[i, :table.counts[i]])])]
  sharded_io.write_sorted_shards_local(records, str(tmp_path / "want" / "related"), ".tsv", 5,
                                       sharded_io.TEXT, HEADER)
  related_rows.write_table(table, str(tmp_path / "got" / "related"), 5, rows_per_chunk=37)
  want = {p.name: p.read_bytes() for p in (tmp_path / "want").iterdir()}
  got = {p.name: p.read_bytes() for p in (tmp_path / "got").iterdir()}
  assert got == want and len(want) == 6
  lines = sum(v.count(b"\n") for n, v in want.items() if n.endswith(".tsv"))
  assert lines == table.counts.sum() + 5  # the rows and each shard's header


def test_score_texts_are_python_formatting():
  rng = np.random.default_rng(11)
  special = [0.0, -0.0, 1.0, -1.0, 1 / 128, -1 / 128, 3 / 256, 5e-7, -5e-7, 4.9999e-7, -1e-30,
             1.5e-45, 0.9999995, -0.9999995, 1.0000001, 123.25, -4096.5, 2.0 ** 20, -3e38]
  scores = np.concatenate([np.array(special, np.float32),
                           rng.normal(size=5000).astype(np.float32),
                           rng.uniform(-1, 1, 5000).astype(np.float32),
                           (rng.integers(-2**20, 2**20, 5000) / 2**21).astype(np.float32)])
  want = ["%.6f\n" % s for s in scores.tolist()]
  assert related_rows.score_texts(scores).to_pylist() == want
  assert related_rows.score_texts(scores[:17]).to_pylist() == want[:17]  # Arrow kernels
  cosines = np.abs(scores) <= 1  # the cosine table
  assert related_rows.score_texts(scores[cosines]).to_pylist() == list(np.array(want)[cosines])
  assert related_rows.score_texts(np.zeros(0, np.float32)).to_pylist() == []
