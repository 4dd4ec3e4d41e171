"""`pipelines/examples/positives.py`: adjacency sampling, anchors and the triplet cap
(TestPipeline + assert_that)."""

import collections

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from scipy import stats

from pipelines.io.edge_records import Edge
from pipelines.examples import items, positives
from pipelines.examples import positives_beam

RUNNER = "FnApiRunner"


def test_adjacency_weighted_positives_follow_the_weights():
  info = items.ItemInfo("a", 0, ("m",))
  weights = {"n1": 1.0, "n2": 2.0, "n3": 4.0, "n4": 8.0}
  counts = collections.Counter()
  for seed in range(3000):
    fn = positives_beam.AdjacencyFn(1, True, seed)
    acc = fn.create_accumulator()
    for nb, w in weights.items():
      acc = fn.add_input(acc, positives.Neighbour(info, nb, 0, w, False, False))
    counts[fn.extract_output(acc).positives[0][0]] += 1
  expected = [3000 * w / 15.0 for w in weights.values()]
  assert stats.chisquare([counts[n] for n in weights], expected).pvalue > 0.01


def test_adjacency_counts_and_merge_order():
  info = items.ItemInfo("a", 0, ("m",), True)
  nbs = [positives.Neighbour(info, f"n{i}", i, 1.0 + i, i % 2 == 0, i % 4 == 0)
         for i in range(20)]
  fn = positives_beam.AdjacencyFn(3, False, 0)
  outputs = set()
  for split_at in (0, 5, 13, 20):
    accs = []
    for part in (nbs[:split_at], nbs[split_at:][::-1]):
      acc = fn.create_accumulator()
      for nb in part:
        acc = fn.add_input(acc, nb)
      accs.append(acc)
    outputs.add(fn.extract_output(fn.merge_accumulators(accs)))
  (anchor,) = outputs
  assert anchor.degree == 20 and anchor.nbr0 == 10 and len(anchor.positives) == 3
  assert anchor.res_nbrs == tuple(sorted(f"n{i}" for i in range(0, 20, 4)))


def test_sample_anchors_transform():
  infos = [items.ItemInfo(i, r, ("m",) if i != "c" else None) for r, i in enumerate("abcd")]
  infos = [i for i in infos if i.id != "d"]  # d: no features
  edges = [Edge("a", "b", 1.0), Edge("b", "c", 2.0), Edge("c", "d", 1.0)]
  with TestPipeline(runner=RUNNER) as p:
    got = ((p | "Infos" >> beam.Create(infos), p | "Edges" >> beam.Create(edges))
           | positives_beam.SampleAnchors(5, True, 0, smart=True, test_fraction=0.0))
    assert_that(got.anchors | beam.MapTuple(lambda a, x: (a, sorted(x.positives), x.degree)),
                equal_to([("a", [("b", 1)], 1), ("b", [("a", 0), ("c", 2)], 2)]))
    assert_that(got.stats | "Sum" >> beam.CombinePerKey(sum),
                equal_to([("edges/used", 2), ("edges/endpoint_without_features", 1)]),
                label="Stats")


def test_cap_triplets_is_exact():
  anchors = [(f"a{i}", positives.Anchor(items.ItemInfo(f"a{i}", i, None),
                                        tuple((f"p{j}", j) for j in range(i % 7 + 1)), 0, 0, ()))
             for i in range(50)]
  slots = sorted(positives.slot_hash(9, a, p) for a, x in anchors for p, _ in x.positives)
  with TestPipeline(runner=RUNNER) as p:
    kept = (p | beam.Create(anchors) | positives_beam.CapTriplets(37, 9)
            | beam.FlatMapTuple(lambda a, x: [(a, q) for q, _ in x.positives]))
    assert_that(kept, equal_to([(a, q) for _, a, q in slots[:37]]))
