"""`pipelines/examples/reservoirs.py`: bottom-k reservoirs by hash."""

import random

from pipelines import hashing
from pipelines.examples import reservoirs_beam


def test_bottom_k_is_order_independent():
  fn = reservoirs_beam.BottomKFn(5)
  values = [(hashing.hash64(0, i), f"m{i}") for i in range(200)]
  results = set()
  for seed in range(5):
    shuffled = values[:]
    random.Random(seed).shuffle(shuffled)
    accs = []
    for chunk in (shuffled[:70], shuffled[70:71], shuffled[71:]):
      acc = fn.create_accumulator()
      for v in chunk:
        acc = fn.add_input(acc, v)
      accs.append(acc)
    results.add(fn.extract_output(fn.merge_accumulators(accs)))
  assert results == {(200, tuple(sorted(values)[:5]))}
