"""Issue 17 edge rules, identical in `ReadEdges` (validate, Beam cluster) and the local reader.

TFRecord weights that are bytes, `--edge_combine=sum` overflow, RFC 4180
quoting, ASCII float syntax, the byte order mark, one id normalisation, int64
ids, and tabs in rejected records.
"""

import collections
import json
import os

import pytest

from launch import main as gcml
from pipelines.io import item_ids, tf_example
from pipelines.io import edge_records
from pipelines.io import edges_local as local_io
from pipelines.io.edge_records import Edge
from pipelines.io.rejected import Rejection
from tests.pipelines import files
from tests.pipelines.io.edge_readers import assert_read_edges_gives, local_edges


@pytest.mark.parametrize("line,expected", [
    ('"v001,x",b,1', Edge("b", "v001,x", 1.0)),  # quotes removed, the comma kept
    ('"a""q",b,2', Edge('a"q', "b", 2.0)),
    ('"a","b","3"', Edge("a", "b", 3.0)),
    ('"a,b,1', edge_records.CSV_BAD_QUOTING),
    ('a,"b"c,1', edge_records.CSV_BAD_QUOTING),
    ("\ufeffa,b,1", Edge("a", "b", 1.0)),  # byte order mark of a headerless file
    ("\ufeffsrc,dst,weight", edge_records.HEADER),
    ("a,b,1_000", edge_records.WEIGHT_NOT_A_NUMBER),
    ("a,b,\u0661\u0662", edge_records.WEIGHT_NOT_A_NUMBER),  # Arabic-Indic digits
    ("a,b,\uff11\uff12", edge_records.WEIGHT_NOT_A_NUMBER),  # full-width digits
    ("a,b,0x10", edge_records.WEIGHT_NOT_A_NUMBER),
    ("a,b,1e3", Edge("a", "b", 1000.0)),
    ("a,b,+.5", Edge("a", "b", 0.5)),
    ("a,b,7.", Edge("a", "b", 7.0)),
    ("a,b,Infinity", edge_records.WEIGHT_INFINITE),
    ("a,b,NaN", edge_records.WEIGHT_NAN),
    ("a,b,2.5", Edge("a", "b", 2.5)),
    ("b,a,2.5", Edge("a", "b", 2.5)),
    (" b , a , 3 ", Edge("a", "b", 3.0)),
    ("a,b", Edge("a", "b", 1.0)),
    ("a,b,", Edge("a", "b", 1.0)),
    ("a,b,c,d", edge_records.WRONG_COLUMN_COUNT),
    ("a", edge_records.WRONG_COLUMN_COUNT),
    ("a,b,heavy", edge_records.WEIGHT_NOT_A_NUMBER),
    ("a,b,nan", edge_records.WEIGHT_NAN),
    ("a,b,inf", edge_records.WEIGHT_INFINITE),
    ("a,b,-inf", edge_records.WEIGHT_INFINITE),
    ("a,b,0", edge_records.WEIGHT_ZERO),
    ("a,b,-1", edge_records.WEIGHT_NEGATIVE),
    ("a,a,1", edge_records.SELF_LOOP),
    (",b,1", edge_records.EMPTY_ID),
    ("a, ,1", edge_records.EMPTY_ID),
    ("a\tb,c,1", item_ids.ID_CONTROL_CHARACTER),
    ("a,b\x00c,1", item_ids.ID_CONTROL_CHARACTER),
    ("a,b\x85c,1", item_ids.ID_CONTROL_CHARACTER),
    ("a,b\r\n", Edge("a", "b", 1.0)),  # a CRLF line end is not part of the id
    ("é,ü,1", Edge("é", "ü", 1.0)),
    ("src,dst,weight", edge_records.HEADER),
    ("SRC,DST", edge_records.HEADER),
    ("   ", edge_records.BLANK),
])
def test_text_rules(line, expected):
  assert edge_records.parse_text_edge(line, ",") == expected


def test_tsv_keeps_quotes_literally():
  assert edge_records.parse_text_edge('"a"\tb\t1', "\t") == Edge('"a"', "b", 1.0)


@pytest.mark.parametrize("record,expected", [
    ({"src": "x", "dst": "y", "weight": [b"abc"]}, edge_records.WEIGHT_NOT_A_FLOAT),
    ({"src": "x", "dst": "y", "weight": [b"1.5"]}, edge_records.WEIGHT_NOT_A_FLOAT),
    ({"src": " y ", "dst": "x\n", "weight": [2.0]}, Edge("x", "y", 2.0)),  # stripped like text
    ({"src": [7], "dst": "y"}, item_ids.ID_NOT_BYTES),
    ({"src": "x", "dst": [7]}, item_ids.ID_NOT_BYTES),
    ({"src": b"\xff", "dst": "y"}, edge_records.NOT_UTF8),
])
def test_tfrecord_rules(record, expected):
  assert edge_records.parse_example_edge(tf_example.encode(record)) == expected


def test_rejected_line_escapes_tabs():
  line = Rejection("validate", "wrong_column_count", "a\tb\\c\td\te").line()
  assert line == "validate\twrong_column_count\ta\\tb\\\\c\\td\\te"
  assert len(line.split("\t")) == 3


CSV = ["\ufeffs0,s1,1", '"v001,x",v2,1', '"q,1', "a,b,1_000", "a,b,\u0661", "a,b,\uff11",
       "big,one,1e308", "one,big,1e308", "big,two,1e308", "x,y,2", "p\u00e9,q,3"]


@pytest.fixture(name="messy")
def _messy(tmp_path):
  d = tmp_path / "in"
  files.write_text(str(d / "m-0.csv"), CSV)
  clean = [f"n{i},n{i + 1},{i % 5 + 1}" for i in range(400)]
  clean[50] = "n1,n2,1_5"  # inside a block the bulk path would take
  clean[60] = '"n3",n4,2'
  files.write_text(str(d / "m-1.csv"), ["src,dst,weight"] + clean)
  files.write_text(str(d / "m-2.tsv"), ["\ufeffa\tb\t1", "c\td\t1_0", '"e"\tf\t1'])
  files.write_tfrecord(str(d / "r-0.tfrecord"), [
      tf_example.encode({"src": "x", "dst": "y", "weight": [b"abc"]}),
      tf_example.encode({"src": "x", "dst": "y", "weight": [b"1.5"]}),
      tf_example.encode({"src": " x", "dst": "z ", "weight": [2.0]}),  # ids stripped:
      tf_example.encode({"src": "z", "dst": "x", "weight": [3.0]}),  # one edge x-z
      tf_example.encode({"src": [3], "dst": "y"}),
      tf_example.encode({"src": "u", "dst": "v", "weight": [4.0]})])
  return d


@pytest.mark.parametrize("pattern,edge_format,combine", [
    ("m-*.csv", "csv", "sum"), ("m-*.csv", "csv", "max"), ("m-2.tsv", "tsv", "sum"),
    ("r-0.tfrecord", "tfrecord", "sum")])
def test_both_engines_agree(messy, monkeypatch, pattern, edge_format, combine):
  monkeypatch.setattr(local_io, "BLOCK_BYTES", 1024)
  paths = sorted(str(p) for p in messy.glob(pattern))
  local = local_edges(paths, edge_format, combine)
  assert_read_edges_gives(paths, edge_format, combine, local)


def test_local_reader_reasons(messy):
  got = local_io.read_edges_local(sorted(str(p) for p in messy.glob("m-*.csv")), "csv", "sum")
  reasons = collections.Counter(r.reason for r in got.rejections)
  assert reasons == {"csv_bad_quoting": 1, "weight_not_a_number": 4, "weight_sum_overflow": 1}
  pairs = {(got.ids[a], got.ids[b]): w for a, b, w in zip(got.src, got.dst, got.weight)}
  assert pairs[("s0", "s1")] == 1.0 and pairs[("v001,x", "v2")] == 1.0
  assert pairs[("n3", "n4")] == 2.0 + 4.0 and pairs[("n1", "n2")] == 2.0  # 1_5 rejected
  assert ("big", "one") not in pairs and pairs[("big", "two")] == 1e308
  overflow = [r for r in got.rejections if r.reason == "weight_sum_overflow"]
  assert overflow[0].record == "big,one: the sum of its 2 weights overflows a float"
  got = local_io.read_edges_local([str(messy / "r-0.tfrecord")], "tfrecord", "sum")
  assert collections.Counter(r.reason for r in got.rejections) == {
      "weight_not_a_float": 2, "id_not_bytes": 1}
  assert got.stats["edges/valid_records"] == 3 and got.stats["edges/unique_edges"] == 2
  assert [(got.ids[a], got.ids[b]) for a, b in zip(got.src, got.dst)] == [("u", "v"), ("x", "z")]
  assert got.weight.tolist() == [4.0, 5.0]


@pytest.mark.parametrize("engine", ["local", "beam"])
@pytest.mark.parametrize("name,reasons", [
    ("r-0.tfrecord", {"weight_not_a_float": 2, "id_not_bytes": 1}),
    ("m-0.csv", {"weight_sum_overflow": 1, "weight_not_a_number": 3, "csv_bad_quoting": 1})])
def test_cluster_engines_reject_alike(messy, tmp_path, engine, name, reasons):
  out = tmp_path / engine
  # One level of one pointer-jumping pass: the edge reader's counts are what is compared (the
  # default 3 levels of ~16 passes made a Beam graph ~10x the size).
  code = gcml.main(["cluster", f"--edges={messy}/{name}", f"--output_dir={out}",
                    f"--engine={engine}", "--edge_combine=sum", "--runner=FnApiRunner",
                    "--levels=1", "--jump_passes=1"])
  assert code == 0
  section = json.loads((out / "summary.json").read_text())["cluster"]
  assert {k[len("rejected/"):]: v for k, v in section.items()
          if k.startswith("rejected/")} == reasons


def test_validate_counts_bytes_weights(messy, tmp_path):
  files.write_tfrecord(str(messy / "f.tfrecord"), [files.item_record("x")])
  out = tmp_path / "v"
  code = gcml.main(["validate", f"--edges={messy}/r-0.tfrecord", f"--features={messy}/f.tfrecord",
                    f"--output_dir={out}", "--modalities=mean_rgb:4,mean_audio:2",
                    "--edge_combine=sum", "--runner=FnApiRunner"])
  assert code == 0
  section = json.loads((out / "summary.json").read_text())["validate"]
  assert section["rejected/weight_not_a_float"] == 2 and section["edges/unique_edges"] == 2
  assert os.path.exists(out / "rejected" / "_MANIFEST-validate.json")


def test_parse_tsv_keeps_commas_in_ids():
  assert edge_records.parse_text_edge("a,1\tb,2\t4", "\t") == Edge("a,1", "b,2", 4.0)
