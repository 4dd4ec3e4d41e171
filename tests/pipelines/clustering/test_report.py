"""`pipelines/clustering/report.py`: size quantiles per level, round summaries, level health and
the size plot."""

import logging

from pipelines.clustering import COLLAPSE_SHARE
from pipelines.clustering.report import (level_health, level_summary, plot_sizes,
                                         round_summaries)


def test_level_summary_nearest_rank_quantiles():
  # 10 clusters: 6 singletons, 3 of size 2, 1 of size 9. Ranks: p50 5 -> 1, p90 9 -> 2,
  # p99 ceil(9.9) = 10 -> 9.
  assert level_summary([(1, 6), (2, 3), (9, 1)], edges_left=4) == {
      "clusters": 10, "singletons": 6,
      "size": {"min": 1, "p50": 1, "p90": 2, "p99": 9, "max": 9}, "edges_left": 4}


def test_level_summary_of_an_empty_level():
  assert level_summary([], 0) == {"clusters": 0, "singletons": 0, "size": {
      "min": 0, "p50": 0, "p90": 0, "p99": 0, "max": 0}, "edges_left": 0}


def test_round_summaries_pop_the_round_counters():
  counts = {"rounds/1/merged": 6, "rounds/1/edges_left": 5, "rounds/3/merged": 1,
            "edges/read": 20}
  assert round_summaries(counts, items=10, rounds=3) == [
      {"round": 1, "clusters": 4, "merged": 6, "mean_size": 2.5, "edges_left": 5},
      {"round": 2, "clusters": 4, "merged": 0, "mean_size": 2.5, "edges_left": 0},
      {"round": 3, "clusters": 3, "merged": 1, "mean_size": 3.333, "edges_left": 0}]
  assert counts == {"edges/read": 20}


def test_level_health_flags_and_logs_a_collapse_and_no_change(caplog):
  stats = level_summary([(2, 1), (8, 1)], 0)
  with caplog.at_level(logging.WARNING):
    health = level_health(1, stats, {"round": 2, "merged": 0, "edges_left": 3}, items=10)
  assert 8 / 10 > COLLAPSE_SHARE
  assert health == {"round": 2, "largest_share": 0.8, "collapsed": True, "unchanged": True}
  assert [r.getMessage() for r in caplog.records] == [
      "cluster: level L1 collapsed: its largest cluster holds 8 of 10 items (80.0%); try "
      "--similarity=jaccard|adamic_adar, --linkage=average or --max_cluster_size",
      "cluster: level L1 (round 2) changed nothing: it equals the round before (3 edges left)"]


def test_a_healthy_level_logs_nothing(caplog):
  stats = level_summary([(2, 5)], 0)
  with caplog.at_level(logging.WARNING):
    health = level_health(0, stats, {"round": 1, "merged": 5, "edges_left": 0}, items=10)
  assert health == {"round": 1, "largest_share": 0.2, "collapsed": False, "unchanged": False}
  assert not caplog.records


def test_plot_sizes_writes_the_same_png_twice(tmp_path):
  hist = {0: [(1, 4), (2, 3)], 1: [(3, 2), (5, 1)]}
  (tmp_path / "a").mkdir()
  (tmp_path / "b").mkdir()
  path = plot_sizes(str(tmp_path / "a"), hist)
  first = open(path, "rb").read()
  assert path == str(tmp_path / "a" / "cluster_sizes.png") and first[:8] == b"\x89PNG\r\n\x1a\n"
  assert open(plot_sizes(str(tmp_path / "b"), hist), "rb").read() == first
