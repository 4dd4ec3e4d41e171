"""The two edge readers compared: `ReadEdges` (Beam) must give what `read_edges_local` gives."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io import edges_beam as edges_lib
from pipelines.io import edges_local as local_io
from tests.pipelines.clustering import graphs


def local_edges(paths, edge_format, combine):
  """Reads edge files with the local reader, as `gcml cluster` would.

  Args:
    paths: the edge files.
    edge_format: csv, tsv or tfrecord.
    combine: `max` or `sum` (`--edge_combine`).

  Returns:
    (sorted (src, dst, weight) edges, sorted rejection lines, counts by name), counted as
    `ReadEdges` counts them.
  """
  got = local_io.read_edges_local(paths, edge_format, combine, "cluster")
  edges = sorted((got.ids[a], got.ids[b], w) for a, b, w in
                 zip(got.src.tolist(), got.dst.tolist(), got.weight.tolist()))
  stats = dict(got.stats)
  if edges:  # ReadEdges(min_weight=0) counts every unique edge under this name, as 0
    stats["edges/under_min_weight"] = 0
  return edges, sorted(r.line() for r in got.rejections), stats


def assert_read_edges_gives(paths, edge_format, combine, expected):
  """Asserts that `ReadEdges` on the same files gives `expected`.

  Args:
    paths: the edge files.
    edge_format: csv, tsv or tfrecord.
    combine: `max` or `sum` (`--edge_combine`).
    expected: (edges, rejection lines, counts), as `local_edges` returns them.
  """
  edges, rejected, stats = expected
  with TestPipeline(runner=graphs.RUNNER) as p:
    r = p | edges_lib.ReadEdges(paths, edge_format, combine, "cluster")
    assert_that(r.edges | beam.Map(tuple), equal_to(edges), label="Edges")
    assert_that(r.rejected | beam.Map(lambda x: x.line()), equal_to(rejected), label="Rejected")
    assert_that(r.stats | beam.CombinePerKey(sum), equal_to(list(stats.items())), label="Stats")
