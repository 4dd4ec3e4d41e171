"""Edge parsing, validation and duplicate combining (contract 1)."""

import math

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io import edges_beam, item_ids, tf_example
from pipelines.io import edge_records
from pipelines.io.edge_records import Edge
from pipelines.errors import InputError
from tests.pipelines import files

RUNNER = "FnApiRunner"


def test_parse_example_edge():
  assert edge_records.parse_example_edge(tf_example.encode(
      {"src": "y", "dst": "x", "weight": [2.0]})) == Edge("x", "y", 2.0)
  assert edge_records.parse_example_edge(tf_example.encode({"src": "x", "dst": "y"})) == Edge("x", "y", 1.0)
  assert edge_records.parse_example_edge(tf_example.encode({"src": "x"})) == edge_records.MISSING_FIELD
  assert edge_records.parse_example_edge(tf_example.encode(
      {"src": "x\ny", "dst": "z"})) == item_ids.ID_CONTROL_CHARACTER
  assert edge_records.parse_example_edge(tf_example.encode(
      {"src": "x", "dst": "y", "weight": [math.nan]})) == edge_records.WEIGHT_NAN
  assert edge_records.parse_example_edge(b"\xff\xff garbage") == edge_records.NOT_AN_EXAMPLE


def test_edge_format_of():
  assert edge_records.edge_format_of("gs://b/e-*.csv") == "csv"
  assert edge_records.edge_format_of("e.tsv") == "tsv"
  assert edge_records.edge_format_of("e-*.tfrecord") == "tfrecord"
  assert edge_records.edge_format_of("e.txt", "tsv") == "tsv"
  with pytest.raises(InputError, match="cannot tell the format"):
    edge_records.edge_format_of("e.txt")
  with pytest.raises(InputError, match="edge_format"):
    edge_records.edge_format_of("e.csv", "parquet")


def _read(paths, fmt, combine, rejections):
  with TestPipeline(runner=RUNNER) as p:
    result = p | edges_beam.ReadEdges(paths, fmt, combine, stage="t")
    assert_that(result.edges, equal_to(expected_edges[combine]), label="Edges")
    assert_that(result.rejected | beam.Map(lambda r: (r.reason, r.record)),
                equal_to(rejections), label="Rejected")
    assert_that(result.stats | beam.CombinePerKey(sum), equal_to(expected_stats[combine]),
                label="Stats")


LINES = ["src,dst,weight", "a,b,1.5", "b,a,2.5", "a,b,1", "b,c,0.1", "c,c,1", "c,d,abc",
         "c,d,nan", "c,d,inf", "c,d,0", "c,d,-2", ",d,1", "c,d,1,1", ""]
expected_edges = {"max": [Edge("a", "b", 2.5), Edge("b", "c", 0.1)],
                  "sum": [Edge("a", "b", 5.0), Edge("b", "c", 0.1)]}
expected_rejections = [(edge_records.SELF_LOOP, "c,c,1"), (edge_records.WEIGHT_NOT_A_NUMBER, "c,d,abc"),
                       (edge_records.WEIGHT_NAN, "c,d,nan"), (edge_records.WEIGHT_INFINITE, "c,d,inf"),
                       (edge_records.WEIGHT_ZERO, "c,d,0"), (edge_records.WEIGHT_NEGATIVE, "c,d,-2"),
                       (edge_records.EMPTY_ID, ",d,1"), (edge_records.WRONG_COLUMN_COUNT, "c,d,1,1")]
_common_stats = [("edges/header_lines", 1), ("edges/blank_lines", 1), ("edges/valid_records", 4),
                 ("edges/duplicates_combined", 2), ("edges/unique_edges", 2),
                 ("edges/under_min_weight", 0)]
expected_stats = {"max": _common_stats, "sum": _common_stats}


@pytest.mark.parametrize("combine", ["max", "sum"])
def test_read_edges_csv(tmp_path, combine):
  path = files.write_text(str(tmp_path / "e.csv"), LINES)
  _read([path], "csv", combine, expected_rejections)


def test_read_edges_tsv(tmp_path):
  path = files.write_text(str(tmp_path / "e.tsv"), [l.replace(",", "\t") for l in LINES])
  _read([path], "tsv", "max", [(r, rec.replace(",", "\t")) for r, rec in expected_rejections])


def test_read_edges_tfrecord_and_non_utf8(tmp_path):
  good = [tf_example.encode({"src": "a", "dst": "b", "weight": [2.0]}),
          tf_example.encode({"src": "b", "dst": "a", "weight": [3.0]})]
  bad = tf_example.encode({"src": "a", "dst": "b", "weight": [-1.0]})
  path = files.write_tfrecord(str(tmp_path / "e.tfrecord"), good + [bad])
  text = tmp_path / "latin1.csv"
  text.write_bytes("a,b,1\n\xe9,b,1\n".encode("latin-1"))
  with TestPipeline(runner=RUNNER) as p:
    tf = p | "TF" >> edges_beam.ReadEdges([path], "tfrecord", "sum")
    assert_that(tf.edges, equal_to([Edge("a", "b", 5.0)]), label="TFEdges")
    assert_that(tf.rejected | "TFReasons" >> beam.Map(lambda r: r.reason),
                equal_to([edge_records.WEIGHT_NEGATIVE]), label="TFRejected")
    txt = p | "Text" >> edges_beam.ReadEdges([str(text)], "csv")
    assert_that(txt.rejected | "TextReasons" >> beam.Map(lambda r: r.reason),
                equal_to([edge_records.NOT_UTF8]), label="TextRejected")


def test_sum_is_exact_and_order_independent(tmp_path):
  weights = [1e16, 1.0, -0.0, 1.0, 3.0, 1e-3] * 5
  weights = [w for w in weights if w > 0]
  lines = [f"a,b,{w!r}" for w in weights]
  path = files.write_text(str(tmp_path / "e.csv"), lines)
  with TestPipeline(runner=RUNNER) as p:
    result = p | edges_beam.ReadEdges([path], "csv", "sum")
    assert_that(result.edges, equal_to([Edge("a", "b", math.fsum(weights))]))
