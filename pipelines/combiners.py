"""Order-independent combiners, so that results do not depend on the runner.

Floating-point addition is not associative: a distributed sum of the same
weights gives different last bits depending on how the runner splits the
work. `ExactSumFn` keeps Shewchuk's exact partials (as `math.fsum` does) and
rounds once at the end, so the sum is the same on every runner.
"""

import math

import apache_beam as beam


def add_exact(partials: list[float], x: float) -> list[float]:
  """Adds x to a list of non-overlapping partials, exactly (Shewchuk).

  Args:
    partials: non-overlapping partials whose sum is exact.
    x: the value to add.

  Returns:
    The new partials.
  """
  out = []
  for y in partials:
    if abs(x) < abs(y):
      x, y = y, x
    hi = x + y
    lo = y - (hi - x)
    if lo:
      out.append(lo)
    x = hi
  out.append(x)
  return out


class ExactSumFn(beam.CombineFn):
  """Sum of floats, correctly rounded and independent of the order of addition."""

  def create_accumulator(self):
    return []

  def add_input(self, acc, x):
    return add_exact(acc, float(x))

  def merge_accumulators(self, accs):
    merged = []
    for acc in accs:
      for x in acc:
        merged = add_exact(merged, x)
    return merged

  def extract_output(self, acc):
    return math.fsum(acc)


class EdgeWeightFn(beam.CombineFn):
  """Combines the weights of duplicate edges: (combined weight, occurrences)."""

  def __init__(self, combine: str):
    if combine not in ("max", "sum"):
      raise ValueError(f"edge_combine must be max or sum, got {combine!r}")
    self._combine = combine

  def create_accumulator(self):
    return ([], 0)

  def add_input(self, acc, weight):
    partials, n = acc
    if self._combine == "max":
      return ([max(partials[0], weight)] if partials else [weight], n + 1)
    return (add_exact(partials, weight), n + 1)

  def merge_accumulators(self, accs):
    partials, n = [], 0
    for p, k in accs:
      n += k
      for x in p:
        partials = self.add_input((partials, 0), x)[0]
    return (partials, n)

  def extract_output(self, acc):
    partials, n = acc
    if self._combine == "max":
      return (partials[0], n)
    try:
      return (math.fsum(partials), n)
    except (OverflowError, ValueError):  # the exact sum of positive weights overflows
      return (math.inf, n)
