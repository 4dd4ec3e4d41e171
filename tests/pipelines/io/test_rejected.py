"""pipelines/io/rejected.py: the `rejected/` line format and its Beam writer."""

import glob
import os

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io.rejected import Rejection, binary_record, rejected_prefix
from pipelines.io.rejected_beam import WriteRejected


def test_line_escapes_separators_inside_the_record():
  r = Rejection("cluster", "bad_weight", "a\tb\\c\nd\re")
  assert r.line() == "cluster\tbad_weight\ta\\tb\\\\c\\nd\\re"


def test_binary_record_is_prefixed_base64():
  assert binary_record(b"\x00\xff") == "b64:AP8="
  assert binary_record(b"") == "b64:"


def test_rejected_prefix_is_under_the_rejected_folder():
  assert rejected_prefix("/out", "validate") == os.path.join("/out", "rejected", "validate")


def test_write_rejected_writes_sorted_lines_and_counts_reasons(tmp_path):
  rejections = [Rejection("validate", "empty_id", "z"), Rejection("validate", "empty_id", "a"),
                Rejection("validate", "bad_weight", "m,n,x")]
  with TestPipeline() as p:
    counts = (p | beam.Create(rejections)
              | WriteRejected(str(tmp_path), "validate")
              | beam.CombinePerKey(sum))
    assert_that(counts, equal_to([("rejected/empty_id", 2), ("rejected/bad_weight", 1)]))
  [path] = glob.glob(str(tmp_path / "rejected" / "validate-*.tsv"))
  assert os.path.basename(path) == "validate-00000-of-00001.tsv"
  with open(path, encoding="utf-8") as f:
    assert f.read().splitlines() == ["validate\tbad_weight\tm,n,x", "validate\tempty_id\ta",
                                     "validate\tempty_id\tz"]
