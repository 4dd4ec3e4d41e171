"""Unit tests of the example-pipeline building blocks (TestPipeline + assert_that)."""

import collections
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from scipy import stats

from pipelines import split
from pipelines.io.edge_records import Edge
from pipelines import hashing
from pipelines.examples import items, positives, random_negatives, reservoirs
from pipelines.io.cluster_tables import reader as tables
from pipelines.examples.cluster_labels import quantiles
from pipelines.examples.skew_join import SkewJoin
from pipelines.errors import InputError

RUNNER = "FnApiRunner"


def test_split_is_stable_and_about_thirty_percent():
  # Fixed values: the split must never change (evaluation depends on it).
  assert [split.is_test(f"v{i}") for i in range(8)] == [
      split.split_hash(f"v{i}") < 0.3 * 2**64 for i in range(8)]
  assert split.split_hash("v0") == int.from_bytes(
      __import__("hashlib").blake2b(b"v0", digest_size=8).digest(), "big")
  share = sum(split.is_test(f"item{i}") for i in range(20000)) / 20000
  assert 0.29 < share < 0.31
  assert all(split.is_test(f"x{i}", 0.5) for i in range(2000) if split.is_test(f"x{i}", 0.3))
  assert split.split_of("v0") in ("train", "validation", "test")
  assert not split.is_test("v0", 0.0)


def test_bottom_k_is_order_independent():
  fn = reservoirs.BottomKFn(5)
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


def test_skew_join_splits_hot_keys_and_keeps_the_result():
  records = [("hot", f"h{i}") for i in range(7)] + [("cold", "c0"), ("nothing", "n0")]
  with TestPipeline(runner=RUNNER) as p:
    values = p | "Values" >> beam.Create([("hot", "H"), ("cold", "C"), ("unused", "U")])
    joined = (values, p | "Records" >> beam.Create(records)) | SkewJoin(hot_threshold=2)
    assert_that(joined, equal_to([(f"h{i}", "H") for i in range(7)] +
                                 [("c0", "C"), ("n0", None)]))


def test_dense_ranks_are_a_permutation_in_hash_order():
  ids = [f"id{i}" for i in range(300)]
  expected = [(i, r) for r, (_, i) in enumerate(sorted((hashing.hash64(4, "rank", i), i)
                                                       for i in ids))]
  with TestPipeline(runner=RUNNER) as p:
    ranked = p | beam.Create(ids) | items.DenseRanks(4)
    assert_that(ranked.ranks, equal_to(expected), label="Ranks")
    assert_that(ranked.count, equal_to([300]), label="Count")


def test_adjacency_weighted_positives_follow_the_weights():
  info = items.ItemInfo("a", 0, ("m",))
  weights = {"n1": 1.0, "n2": 2.0, "n3": 4.0, "n4": 8.0}
  counts = collections.Counter()
  for seed in range(3000):
    fn = positives.AdjacencyFn(1, True, seed)
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
  fn = positives.AdjacencyFn(3, False, 0)
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
           | positives.SampleAnchors(5, True, 0, smart=True, test_fraction=0.0))
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
    kept = (p | beam.Create(anchors) | positives.CapTriplets(37, 9)
            | beam.FlatMapTuple(lambda a, x: [(a, q) for q, _ in x.positives]))
    assert_that(kept, equal_to([(a, q) for _, a, q in slots[:37]]))


def test_draw_rank_is_uniform_and_skips_excluded():
  n, draws = 12, 24000
  counts = collections.Counter(random_negatives.draw_rank(n, [3, 7], 0, f"a{i}", "p")
                               for i in range(draws))
  assert set(counts) == set(range(n)) - {3, 7}
  assert stats.chisquare([counts[r] for r in sorted(counts)]).pvalue > 0.01
  assert random_negatives.draw_rank(2, [0, 1], 0, "a", "p") is None
  assert random_negatives.draw_rank(3, [0, 1], 0, "a", "p") == 2


def test_quantiles_nearest_rank():
  assert quantiles({1: 1, 2: 2, 10: 1}) == {"min": 1, "p50": 2, "p90": 10, "p99": 10, "max": 10}
  assert quantiles({}) == {}


def test_assignment_rows_and_header(tmp_path):
  assert tables.parse_assignment("x\tm\ts\tt", 3) == tables.Assignment("x", ("m", "s", "t"),
                                                                       "x\tm\ts\tt")
  assert tables.parse_assignment("id\tl0\tl1\tl2", 3) is None
  assert tables.parse_assignment("x\tm\ts", 3) == tables.WRONG_COLUMN_COUNT
  assert tables.parse_assignment("\tm\ts\tt", 3) == tables.EMPTY_ID
  assert tables.parse_assignment("x\tm\t\tt", 3) == tables.EMPTY_CLUSTER
  bad = tmp_path / "assignments-00000-of-00001.tsv"
  bad.write_text("item\tlevel0\nx\tm\n")
  with pytest.raises(InputError, match="expected a header"):
    tables.num_levels([str(bad)])
