"""`pipelines/examples/items.py`: dense ranks of the item ids (TestPipeline + assert_that)."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines import hashing
from pipelines.examples import items_beam

RUNNER = "FnApiRunner"


def test_dense_ranks_are_a_permutation_in_hash_order():
  ids = [f"id{i}" for i in range(300)]
  expected = [(i, r) for r, (_, i) in enumerate(sorted((hashing.hash64(4, "rank", i), i)
                                                       for i in ids))]
  with TestPipeline(runner=RUNNER) as p:
    ranked = p | beam.Create(ids) | items_beam.DenseRanks(4)
    assert_that(ranked.ranks, equal_to(expected), label="Ranks")
    assert_that(ranked.count, equal_to([300]), label="Count")
