"""`pipelines/io/cluster_tables/writer.py`: cluster ids and rows, and the Beam and in-memory
writers of the three tables (contract 4), byte for byte the same."""

import os

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.io.cluster_tables import writer
from pipelines.io.cluster_tables import writer_beam

IDS = ["a", "b", "c", "d", "e"]
# L0: {a, b, c} named a and {d, e} named d; L1: everything in a.
REPS = [np.array([0, 0, 0, 3, 3]), np.array([0, 0, 0, 0, 0])]
TABLES = {
    "assignments-00000-of-00001.tsv": "id\tl0\tl1\na\tl0-a\tl1-a\nb\tl0-a\tl1-a\nc\tl0-a\tl1-a\n"
                                      "d\tl0-d\tl1-a\ne\tl0-d\tl1-a\n",
    "clusters-00000-of-00001.tsv": "level\tcluster\tparent\tsize\n0\tl0-a\tl1-a\t3\n"
                                   "0\tl0-d\tl1-a\t2\n1\tl1-a\t\t5\n",
    "cluster_sizes-00000-of-00001.tsv": "level\tsize\tclusters\n0\t2\t1\n0\t3\t1\n1\t5\t1\n",
}


def _read(folder):
  return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))}


def test_rows_and_headers():
  assert writer.cluster_id(2, "v7") == "l2-v7"
  assert writer.assignments_header(3) == "id\tl0\tl1\tl2"
  assert writer.assignment_record("x", ["x", "y"]) == ("x", "x\tl0-x\tl1-y")
  assert writer.cluster_record(0, "x", "y", 4) == ("l0-x", "0\tl0-x\tl1-y\t4")
  assert writer.cluster_record(1, "y", None, 9) == ("l1-y", "1\tl1-y\t\t9")
  # Sizes sort as numbers: 10 after 9.
  assert writer.size_record(0, 10, 2) == ("0000\t000000000010", "0\t10\t2")
  assert writer.size_record(0, 9, 1)[0] < writer.size_record(0, 10, 2)[0]
  assert writer.prefix("out", "clusters") == os.path.join("out", "clusters")


def test_local_tables_by_hand(tmp_path):
  writer.write_tables_local(str(tmp_path), IDS, REPS, num_shards=1)
  written = _read(tmp_path)
  assert {name: written[name].decode() for name in TABLES} == TABLES


def test_beam_writes_the_same_bytes(tmp_path):
  writer.write_tables_local(str(tmp_path / "local"), IDS, REPS, num_shards=1)
  assignments = [(item, tuple(IDS[r[k]] for r in REPS)) for k, item in enumerate(IDS)]
  with TestPipeline(runner="FnApiRunner") as p:
    _ = (p | beam.Create(assignments)
         | writer_beam.WriteClusterTables(str(tmp_path / "beam"), levels=2, num_shards=1))
  assert _read(tmp_path / "beam") == _read(tmp_path / "local")
