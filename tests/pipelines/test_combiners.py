"""pipelines/combiners.py: exact sums and duplicate-edge weights, in any order."""

import itertools

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.combiners import EdgeWeightFn, ExactSumFn, add_exact


def _combine(fn, groups):
  """Runs a CombineFn by hand: each group is added, then the accumulators merged."""
  accs = []
  for group in groups:
    acc = fn.create_accumulator()
    for x in group:
      acc = fn.add_input(acc, x)
    accs.append(acc)
  return fn.extract_output(fn.merge_accumulators(accs))


def test_add_exact_keeps_what_float_addition_loses():
  partials = []
  for x in (1e16, 1.0, -1e16):
    partials = add_exact(partials, x)
  assert sum(partials) == 1.0          # plain (1e16 + 1.0) - 1e16 is 0.0
  assert (1e16 + 1.0) - 1e16 == 0.0


def test_exact_sum_is_the_same_for_every_order_and_split():
  values = [0.1] * 10 + [1e16, -1e16, 3.0]
  expected = 4.0  # ten 0.1's are 1.0 exactly rounded, plus 3.0
  results = set()
  for perm in itertools.islice(itertools.permutations(values[-4:]), 24):
    ordered = values[:-4] + list(perm)
    results.add(_combine(ExactSumFn(), [ordered[:5], ordered[5:]]))
    results.add(_combine(ExactSumFn(), [ordered]))
  assert results == {expected}


def test_edge_weight_max_and_sum_count_occurrences():
  assert _combine(EdgeWeightFn("max"), [[2.0, 5.0], [3.0]]) == (5.0, 3)
  assert _combine(EdgeWeightFn("sum"), [[0.1, 0.2], [0.3]]) == (0.6, 3)


def test_edge_weight_sum_overflow_is_infinite():
  assert _combine(EdgeWeightFn("sum"), [[1.7e308], [1.7e308]]) == (float("inf"), 2)


def test_edge_weight_rejects_unknown_rule():
  with pytest.raises(ValueError, match="edge_combine must be max or sum"):
    EdgeWeightFn("mean")


def test_exact_sum_in_a_beam_pipeline():
  with TestPipeline() as p:
    got = (p | beam.Create([("a", 0.1)] * 10 + [("b", 1e16), ("b", 1.0), ("b", -1e16)])
           | beam.CombinePerKey(ExactSumFn()))
    assert_that(got, equal_to([("a", 1.0), ("b", 1.0)]))
