"""`pipelines/clustering/partitioned.py`: stable partitions, chunks, and the exchange of chunked
records between partitions (TestPipeline + assert_that)."""

import zlib

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.clustering.partitioned import (CHUNK, QUERY, TABLE, chunks, exchange, group,
                                              pair_partition, partition_of, records_of,
                                              table_and_queries)
from tests.pipelines.clustering import graphs


def test_partition_of_is_the_crc32_of_the_key():
  # CRC-32 of "a" is 0xE8B7BE43 = 3904355907 = 7 * 557765129 + 4.
  assert partition_of("a", 7) == 4
  assert partition_of("a", 1) == 0


def test_pair_partition_is_the_crc32_of_both_keys_in_order():
  # CRC-32 chains: crc32(b, crc32(a)) == crc32(a + b).
  for a, b in (("a", "b"), ("v1", "v22"), ("ß", "x")):
    assert pair_partition(a, b, 1000) == zlib.crc32((a + b).encode("utf-8")) % 1000


def test_chunks_hold_at_most_chunk_records_in_order():
  records = list(range(2 * CHUNK + 1))
  got = list(chunks(iter(records)))
  assert [len(c) for c in got] == [CHUNK, CHUNK, 1]
  assert [r for c in got for r in c] == records
  assert not list(chunks([]))


def test_table_and_queries_builds_every_table_record_before_the_first_query():
  built, seen = [], []
  tagged = [(QUERY, ["q1"]), (TABLE, ["t1", "t2"]), (QUERY, ["q2"]), (TABLE, ["t3"])]
  for query in table_and_queries(tagged, built.extend):
    seen.append((query, list(built)))
  assert seen == [("q1", ["t1", "t2", "t3"]), ("q2", ["t1", "t2", "t3"])]


def test_exchange_sends_each_record_to_its_keys_partition():
  keys = [f"k{i}" for i in range(50)]
  with TestPipeline(runner=graphs.RUNNER) as p:
    chunked = p | beam.Create(list(chunks([(k, len(k)) for k in keys])))
    grouped = group("G", exchange(chunked, "Send", lambda record: record[0], 3, tag=TABLE))
    got = grouped | beam.FlatMapTuple(
        lambda part, tagged: [(part, tag, key) for tag, records in tagged for key, _ in records])
    assert_that(got, equal_to([(partition_of(k, 3), TABLE, k) for k in keys]))


def test_a_closed_gate_sends_nothing():
  with TestPipeline(runner=graphs.RUNNER) as p:
    chunked = p | "Records" >> beam.Create([["a", "b"]])
    gate = beam.pvalue.AsList(p | "Gate" >> beam.Create([0, 0]))
    sent = exchange(chunked, "Send", lambda key: key, 2, gate=gate)
    assert_that(sent, equal_to([]))


def test_records_of_flattens_chunks():
  with TestPipeline(runner=graphs.RUNNER) as p:
    got = records_of(p | beam.Create([[1, 2], [3]]), "Flat")
    assert_that(got, equal_to([1, 2, 3]))
