"""Cluster tables (contract 4): their ids, rows, writer (Beam and memory) and reader.

Written by the cluster stage under OUTPUT/ (every record goes through
`sharded_io`, so the Beam and the in-memory engine write the same bytes):
* `assignments-*.tsv`  `id\\tl0\\tl1\\tl2`: one line per item of any valid edge;
* `clusters-*.tsv`     `level\\tcluster\\tparent\\tsize`: parent is the cluster
  at the next level (empty at the top), size in items;
* `cluster_sizes-00000-of-00001.tsv`  `level\\tsize\\tclusters`: the histogram
  behind the summary's quantiles and `cluster_sizes.png` (log-log, per level).
Cluster ids are `l{level}-{representative item}`.

Read by the example pipelines: `CLUSTERS_DIR/assignments-*.tsv` has the header
`id\\tl0\\tl1\\t...` (one column per level, cluster ids are strings) and one row per
item. Only this table is needed: the cluster sizes the samplers use are counted
over *train* items with features, which `clusters-*.tsv` (whole graph) cannot
give, and the parent of a level-l cluster is read from the rows themselves.

A cluster is identified by (level, cluster id): ids need only be unique
within a level. Malformed rows become `Rejection`s (reasons below); duplicate
ids are resolved after the join with the features (see `examples/items.py`).
"""

import dataclasses
import logging
from typing import NamedTuple

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipelines.io import inputs, sharded_io, summary
from pipelines import split
from pipelines.errors import InputError
from pipelines.io.rejected import Rejection

ASSIGNMENTS = "assignments"
WRONG_COLUMN_COUNT = "assignment_wrong_column_count"
EMPTY_ID = "assignment_empty_id"
EMPTY_CLUSTER = "assignment_empty_cluster"
NOT_UTF8 = "assignment_not_utf8"
DUPLICATE_ID = "assignment_duplicate_id"


class Assignment(NamedTuple):
  """An item's cluster at every level (path[0] = L0 cluster, ...)."""
  id: str
  path: tuple
  line: str


def assignment_files(clusters_dir: str) -> list[str]:
  """The assignment shards of a cluster directory.

  Raises:
    InputError: none, or not the whole set its manifest lists (a killed or
      mixed `gcml cluster` run).
  """
  pattern = FileSystems.join(clusters_dir, f"{ASSIGNMENTS}-*.tsv")
  return inputs.check_files(pattern, "--clusters", tfrecord=False, require_manifest=True)


def check_cluster_split(clusters_dir: str, test_fraction: float,
                        validation_fraction: float) -> None:
  """Refuses cluster tables made under another split; warns when they saw test edges."""
  tables_split = summary.read_json(
      FileSystems.join(clusters_dir, summary.SUMMARY_NAME)).get("cluster", {}).get("split")
  split.check_same(tables_split, test_fraction, f"--clusters={clusters_dir}",
                   validation_fraction)
  if tables_split and tables_split.get("clustered_edges") == "all":
    logging.warning("--clusters=%s was clustered over every edge (--cluster_all_edges): test "
                    "items shaped these clusters, so the cold start is not strict",
                    clusters_dir)


def read_header(path: str) -> tuple[str, ...]:
  """Returns the level column names of an assignments file (`l0`, `l1`, ...)."""
  with FileSystems.open(path, compression_type="uncompressed") as f:
    head = f.read(4096).decode("utf-8", errors="replace").split("\n", 1)[0].rstrip("\r")
  fields = head.split("\t")
  if len(fields) < 2 or fields[0] != "id" or any(
      name != f"l{i}" for i, name in enumerate(fields[1:])):
    raise InputError(f"{path}: expected a header 'id\\tl0\\tl1...' (contract 4), got {head!r}")
  return tuple(fields[1:])


def num_levels(paths: list[str]) -> int:
  """Number of levels of the tables; every shard must have the same header."""
  headers = {read_header(p) for p in paths}
  if len(headers) != 1:
    raise InputError(f"--clusters: the assignment shards disagree on their header: "
                     f"{sorted(headers)}")
  return len(headers.pop())


def parse_assignment(line: str, levels: int) -> Assignment | str | None:
  """Parses one row; returns an Assignment, a rejection reason or None (header/blank)."""
  line = line.rstrip("\r")
  if not line.strip():
    return None
  fields = [f.strip() for f in line.split("\t")]
  if fields[0] == "id" and fields[1:] == [f"l{i}" for i in range(len(fields) - 1)]:
    return None
  if len(fields) != levels + 1:
    return WRONG_COLUMN_COUNT
  if not fields[0]:
    return EMPTY_ID
  if not all(fields[1:]):
    return EMPTY_CLUSTER
  return Assignment(fields[0], tuple(fields[1:]), line)


class _ParseAssignments(beam.DoFn):

  def __init__(self, levels: int, stage: str):
    self._levels = levels
    self._stage = stage

  def process(self, raw: bytes):
    try:
      line = raw.decode("utf-8")
    except UnicodeDecodeError:
      yield beam.pvalue.TaggedOutput("rejected", Rejection(
          self._stage, NOT_UTF8, raw.decode("utf-8", errors="replace")))
      return
    result = parse_assignment(line, self._levels)
    if isinstance(result, Assignment):
      yield result
    elif result is not None:
      yield beam.pvalue.TaggedOutput("rejected", Rejection(self._stage, result, line))


class ReadAssignmentsResult(NamedTuple):
  assignments: beam.PCollection  # Assignment (ids may repeat; resolved later)
  rejected: beam.PCollection  # Rejection


@dataclasses.dataclass
class ReadAssignments(beam.PTransform):
  """Reads `assignments-*.tsv` rows.

  Attributes:
    paths: the assignment shards (see `assignment_files`).
    levels: number of level columns (see `num_levels`).
    stage: stage name written in rejection records.
  """
  paths: list[str]
  levels: int
  stage: str = "examples"

  def __post_init__(self):
    super().__init__()

  def expand(self, pbegin):
    parsed = (pbegin
              | "ListFiles" >> beam.Create(self.paths)
              | "ReadLines" >> beam.io.ReadAllFromText(coder=beam.coders.BytesCoder())
              | "Parse" >> beam.ParDo(_ParseAssignments(self.levels, self.stage)).with_outputs(
                  "rejected", main="assignments"))
    return ReadAssignmentsResult(parsed.assignments, parsed.rejected)


def cluster_id(level: int, rep: str) -> str:
  """The id of a level's cluster, named by its representative item.

  Args:
    level: the level, 0 at the bottom.
    rep: the representative item's id.

  Returns:
    `l{level}-{rep}`, unique within every level and stable for a given input and seed.
  """
  return f"l{level}-{rep}"


CLUSTERS_HEADER = "level\tcluster\tparent\tsize"
SIZES_HEADER = "level\tsize\tclusters"


def prefix(output_dir: str, name: str) -> str:
  return FileSystems.join(output_dir, name)


def assignments_header(levels: int) -> str:
  return "id\t" + "\t".join(f"l{level}" for level in range(levels))


def assignment_record(item: str, reps) -> tuple:
  return item, item + "".join(f"\tl{level}-{rep}" for level, rep in enumerate(reps))


def cluster_record(level: int, rep: str, parent_rep, size: int) -> tuple:
  name = cluster_id(level, rep)
  parent = "" if parent_rep is None else cluster_id(level + 1, parent_rep)
  return name, f"{level}\t{name}\t{parent}\t{size}"


def size_record(level: int, size: int, count: int) -> tuple:
  return f"{level:04d}\t{size:012d}", f"{level}\t{size}\t{count}"


class _SizeAndParent(beam.CombineFn):
  """(members, parent) of a cluster; every member names the same parent."""

  def create_accumulator(self):
    return (0, None)

  def add_input(self, acc, value):
    return (acc[0] + 1, acc[1] if acc[1] is not None else value)

  def merge_accumulators(self, accs):
    count, parent = 0, None
    for n, p in accs:
      count, parent = count + n, parent if parent is not None else p
    return (count, parent)

  def extract_output(self, acc):
    return acc


def _per_level(item_reps):
  _, reps = item_reps
  for level, rep in enumerate(reps):
    yield (level, rep), (reps[level + 1] if level + 1 < len(reps) else None)


@dataclasses.dataclass
class WriteClusterTables(beam.PTransform):
  """(item, reps per level) -> the three tables."""
  output_dir: str
  levels: int
  num_shards: int

  def __post_init__(self):
    super().__init__()

  def expand(self, assignments):
    out, shards = self.output_dir, self.num_shards
    _ = (assignments
         | "AssignmentLines" >> beam.MapTuple(assignment_record)
         | "WriteAssignments" >> sharded_io.WriteSortedShards(
             prefix(out, "assignments"), ".tsv", shards, header=assignments_header(self.levels)))
    clusters = (assignments
                | "PerLevel" >> beam.FlatMap(_per_level)
                | "SizeAndParent" >> beam.CombinePerKey(_SizeAndParent()))
    _ = (clusters
         | "ClusterLines" >> beam.MapTuple(lambda k, sp: cluster_record(k[0], k[1], sp[1], sp[0]))
         | "WriteClusters" >> sharded_io.WriteSortedShards(
             prefix(out, "clusters"), ".tsv", shards, header=CLUSTERS_HEADER))
    return (clusters
            | "LevelAndSize" >> beam.MapTuple(lambda k, sp: ((k[0], sp[0]), 1))
            | "Histogram" >> beam.CombinePerKey(sum)
            | "SizeLines" >> beam.MapTuple(lambda k, n: size_record(k[0], k[1], n))
            | "WriteSizes" >> sharded_io.WriteSortedShards(
                prefix(out, "cluster_sizes"), ".tsv", 1, header=SIZES_HEADER))


def write_tables_local(output_dir: str, ids: list, reps: list, num_shards: int) -> None:
  """The same tables from reps[level][item] (indices into the sorted `ids`)."""
  levels = len(reps)
  columns = [[ids[i] for i in r.tolist()] for r in reps]
  sharded_io.write_sorted_shards_local(
      (assignment_record(item, level_reps) for item, *level_reps in zip(ids, *columns)),
      prefix(output_dir, "assignments"), ".tsv", num_shards, header=assignments_header(levels))
  clusters, sizes = [], []
  for level, r in enumerate(reps):
    unique, first, counts = np.unique(r, return_index=True, return_counts=True)
    parents = [None] * len(unique) if level + 1 == levels else reps[level + 1][first].tolist()
    for rep, parent, size in zip(unique.tolist(), parents, counts.tolist()):
      clusters.append(cluster_record(level, ids[rep], None if parent is None else ids[parent], size))
    for size, n in zip(*np.unique(counts, return_counts=True)):
      sizes.append(size_record(level, int(size), int(n)))
  sharded_io.write_sorted_shards_local(clusters, prefix(output_dir, "clusters"), ".tsv",
                                       num_shards, header=CLUSTERS_HEADER)
  sharded_io.write_sorted_shards_local(sizes, prefix(output_dir, "cluster_sizes"), ".tsv", 1,
                                       header=SIZES_HEADER)


def read_histogram(output_dir: str) -> dict:
  """{level: [(size, clusters), ...]} from cluster_sizes-*.tsv."""
  hist = {}
  paths = inputs.check_files(sharded_io.shard_glob(prefix(output_dir, "cluster_sizes"), ".tsv"),
                             "cluster sizes", tfrecord=False, require_manifest=True)
  for path in paths:
    with FileSystems.open(path) as f:
      for line in f.read().decode("utf-8").splitlines()[1:]:
        level, size, count = map(int, line.split("\t"))
        hist.setdefault(level, []).append((size, count))
  return {level: sorted(pairs) for level, pairs in sorted(hist.items())}
