"""`read_edges_local` gives what `ReadEdges` gives: edges, rejections and counts."""

import collections
import io
import os

import numpy as np
import pytest

from pipelines.io import edge_records, rejected, tf_example
from pipelines.io import edges_local as local_io
from tests.pipelines import files
from tests.pipelines.io.edge_readers import assert_read_edges_gives, local_edges

MESSY = ["src,dst,weight", "a,b,2", "b,a,5", "a,c,1.25", "", "c,z,1", "a,a,1", "a,b,x",
         "a,b,nan", "a,b,inf", "a,b,0", "a,b,-1", ",b,1", "a,b,1,2", " d , e , 3 ", "d,e",
         "e,f,", "é,ü,0.5", "SRC,DST,WEIGHT", "src,dst,7", "x\ty\t1"]


def _clean_lines(n, seed):
  rng = np.random.default_rng(seed)
  a, b = rng.integers(0, 400, n), rng.integers(0, 400, n)
  w = np.round(rng.random(n) * 9 + 0.001, 3)
  lines = [f"n{x},n{y},{z}" for x, y, z in zip(a, b, w)]  # includes self loops
  lines[100] = "n1,n2,nan"
  lines[200] = "n1,n2,1e999"
  lines[300] = "n1\x01x,n2,1"  # control characters: id_control_character
  lines[400] = "n1,n2\x7f,1"
  return ["src,dst,weight"] + lines


@pytest.fixture(name="inputs")
def _inputs(tmp_path):
  d = tmp_path / "in"
  files.write_text(str(d / "e-0.csv"), MESSY)
  files.write_text(str(d / "e-1.csv"), _clean_lines(6000, 1))
  with open(d / "e-2.csv", "wb") as f:  # CRLF, a non-UTF-8 line, no final newline
    f.write(b"p,q,2\r\nq,r,3\r\n\xff\xfe,q,1\nr,s,4\rx\nlast,line,1")
  files.write_text(str(d / "t-0.tsv"), ["src\tdst\tweight", "a\tb\t2", "b\ta\t3", "a,b,1",
                                        "k\tl\t2"] + [f"m{i}\tm{i + 1}\t{i % 7 + 1}"
                                                      for i in range(3000)])
  files.write_tfrecord(str(d / "r-0.tfrecord"), [
      tf_example.encode({"src": "a", "dst": "b", "weight": [2.0]}),
      tf_example.encode({"src": "b", "dst": "a"}),
      tf_example.encode({"src": "a", "dst": "a", "weight": [1.0]}),
      tf_example.encode({"dst": "a"}),
      b"not a proto"])
  files.write_damaged_tfrecord(str(d / "r-1.tfrecord"), [
      tf_example.encode({"src": "c", "dst": "d"}),
      tf_example.encode({"src": "c", "dst": "e"}),
      tf_example.encode({"src": "c\td", "dst": "f"})], bad_checksum=1)
  return d


@pytest.mark.parametrize("pattern,edge_format,combine", [
    ("e-*.csv", "csv", "max"), ("e-*.csv", "csv", "sum"), ("t-0.tsv", "tsv", "max"),
    ("r-*.tfrecord", "tfrecord", "sum")])
def test_local_reader_equals_read_edges(inputs, monkeypatch, pattern, edge_format, combine):
  monkeypatch.setattr(local_io, "BLOCK_BYTES", 4096)  # many blocks, lines across boundaries
  paths = sorted(str(p) for p in inputs.glob(pattern))
  local = local_edges(paths, edge_format, combine)
  assert local[0] and local[1]
  assert_read_edges_gives(paths, edge_format, combine, local)


def test_rejected_file_and_counts(inputs, tmp_path):
  got = local_io.read_edges_local([str(inputs / "e-0.csv")], "csv", "max", "cluster")
  counts = rejected.write_rejected_local(str(tmp_path / "out"), "cluster", got.rejections)
  lines = files.read_shards(str(tmp_path / "out" / "rejected" / "cluster"), ".tsv")
  assert sorted(lines) == sorted(r.line() for r in got.rejections)
  assert counts == dict(collections.Counter(f"rejected/{r.reason}" for r in got.rejections))
  assert counts["rejected/self_loop"] == 1 and got.stats["edges/header_lines"] == 2
  assert ("d", "e") in {(got.ids[a], got.ids[b]) for a, b in zip(got.src, got.dst)}
  assert os.path.exists(tmp_path / "out" / "rejected" / "cluster-00000-of-00001.tsv")


def test_corrupt_tfrecord_frames_are_rejected(inputs):
  path = str(inputs / "r-1.tfrecord")
  got = local_io.read_edges_local([path], "tfrecord")
  assert collections.Counter(r.reason for r in got.rejections) == {
      "tfrecord_bad_data_checksum": 1, "tfrecord_truncated": 1, "id_control_character": 1}
  assert [(got.ids[a], got.ids[b]) for a, b in zip(got.src, got.dst)] == [("c", "d")]
  assert all(r.record.startswith(path + " ") for r in got.rejections
             if r.reason.startswith("tfrecord_"))


def _by_line_rules(lines):
  """Edges (max of duplicates) and rejection reasons computed with the per-line parser."""
  edges, reasons = {}, collections.Counter()
  for line in lines:
    got = edge_records.parse_text_edge(line, ",")
    if isinstance(got, edge_records.Edge):
      key = (got.src, got.dst)
      edges[key] = max(edges.get(key, 0.0), got.weight)
    elif got not in (edge_records.HEADER, edge_records.BLANK):
      reasons[got] += 1
  return sorted((a, b, w) for (a, b), w in edges.items()), reasons


def test_long_ids_and_lines_longer_than_a_block(tmp_path, monkeypatch):
  monkeypatch.setattr(local_io, "BLOCK_BYTES", 64)  # every 2 lines a block; long lines grow it
  rng = np.random.default_rng(3)
  lines = ["src,dst,weight"] + [f"item-{a:015d},item-{b:015d},{w}" for a, b, w in zip(
      rng.integers(0, 50, 400), rng.integers(0, 50, 400), np.round(rng.random(400) * 5, 2))]
  lines[7] = "x" * 150 + ",y,2.5"  # longer than the block
  lines[9] = "item-000000000000001,item-000000000000002,-1"
  path = str(tmp_path / "e.csv")
  files.write_text(path, lines)
  got = local_io.read_edges_local([path], "csv", "max", "cluster")
  edges = sorted((got.ids[a], got.ids[b], w) for a, b, w in
                 zip(got.src.tolist(), got.dst.tolist(), got.weight.tolist()))
  want_edges, want_reasons = _by_line_rules(lines)
  assert edges == want_edges
  assert collections.Counter(r.reason for r in got.rejections) == want_reasons
  assert want_reasons["self_loop"] > 0 and want_reasons["weight_negative"] == 1


class _ReadOnly:
  """A file object without readinto."""

  def __init__(self, data):
    self._f = io.BytesIO(data)

  def read(self, n):
    return self._f.read(n)


@pytest.mark.parametrize("make", [io.BytesIO, _ReadOnly])
def test_blocks_are_whole_lines_then_the_rest(make, monkeypatch):
  monkeypatch.setattr(local_io, "BLOCK_BYTES", 8)
  collector = local_io._Collector("cluster")  # pylint: disable=protected-access
  blocks = [bytes(b) for b in local_io._blocks(  # pylint: disable=protected-access
      make(b"a,b,1\nc,d,2\nlong-line,x,3\ntail"), collector)]
  assert blocks == [b"a,b,1\n", b"c,d,2\n", b"long-line,x,3\n", b"tail"]
