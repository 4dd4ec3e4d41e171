"""`pipelines/examples/skew_join.py`: a join that splits hot keys (TestPipeline + assert_that)."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.examples.skew_join_beam import SkewJoin

RUNNER = "FnApiRunner"


def test_skew_join_splits_hot_keys_and_keeps_the_result():
  records = [("hot", f"h{i}") for i in range(7)] + [("cold", "c0"), ("nothing", "n0")]
  with TestPipeline(runner=RUNNER) as p:
    values = p | "Values" >> beam.Create([("hot", "H"), ("cold", "C"), ("unused", "U")])
    joined = (values, p | "Records" >> beam.Create(records)) | SkewJoin(hot_threshold=2)
    assert_that(joined, equal_to([(f"h{i}", "H") for i in range(7)] +
                                 [("c0", "C"), ("n0", None)]))
