"""`pipelines/examples/cluster_labels.py`: nearest-rank quantiles of the cluster sizes."""

from pipelines.examples.cluster_labels import quantiles


def test_quantiles_nearest_rank():
  assert quantiles({1: 1, 2: 2, 10: 1}) == {"min": 1, "p50": 2, "p90": 10, "p99": 10, "max": 10}
  assert quantiles({}) == {}
