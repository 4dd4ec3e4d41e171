"""`pipelines/examples/random_negatives.py`: a uniform rank that skips the excluded ones."""

import collections

from scipy import stats

from pipelines.examples import random_negatives


def test_draw_rank_is_uniform_and_skips_excluded():
  n, draws = 12, 24000
  counts = collections.Counter(random_negatives.draw_rank(n, [3, 7], 0, f"a{i}", "p")
                               for i in range(draws))
  assert set(counts) == set(range(n)) - {3, 7}
  assert stats.chisquare([counts[r] for r in sorted(counts)]).pvalue > 0.01
  assert random_negatives.draw_rank(2, [0, 1], 0, "a", "p") is None
  assert random_negatives.draw_rank(3, [0, 1], 0, "a", "p") == 2
