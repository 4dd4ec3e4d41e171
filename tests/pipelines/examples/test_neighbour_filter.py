"""`pipelines/examples/neighbour_filter.py`: the first negative draw that is not a graph
neighbour of the anchor (TestPipeline + assert_that)."""

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.examples.neighbour_filter import Candidates, pair_key
from pipelines.examples.neighbour_filter_beam import ExcludeNeighbours
from pipelines.io.edge_records import Edge


def test_pair_key_sorts_the_ids():
  assert pair_key("b", "a") == ("a", "b") == pair_key("a", "b")


def test_first_non_neighbour_draw_is_kept_and_exhausted_slots_go_on():
  # Edges a-x and y-a (either direction): x and y are a's neighbours, z is not.
  edges = [Edge("a", "x", 1.0), Edge("y", "a", 2.0), Edge("b", "z", 1.0)]
  slots = [Candidates("a", "p", 1, ("x", "y", "z", "w"), (), 0),  # third draw: z
           Candidates("a", "q", 0, ("z",), (), 1),  # first draw
           Candidates("b", "p", 2, ("z",), (), 0)]  # z is b's neighbour: exhausted
  with TestPipeline(runner="FnApiRunner") as p:
    got = ((p | "Slots" >> beam.Create(slots), p | "Edges" >> beam.Create(edges))
           | ExcludeNeighbours())
    assert_that(got.chosen, equal_to([("a", "p", "z", 1), ("a", "q", "z", 0)]), label="Chosen")
    assert_that(got.exhausted | beam.Map(tuple), equal_to([tuple(slots[2])]), label="Exhausted")
    assert_that(got.stats | beam.CombinePerKey(sum), equal_to(
        [("negatives/neighbour_draws_skipped", 3), ("fallback/level_2_draws_all_neighbours", 1)]),
        label="Stats")
