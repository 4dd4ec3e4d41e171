"""Reading cluster tables (contract 4): assignments for the example pipelines, sizes back.

`CLUSTERS_DIR/assignments-*.tsv` has the header `id\\tl0\\tl1\\t...` (one column
per level, cluster ids are strings) and one row per item. Only this table is
needed: the cluster sizes the samplers use are counted over *train* items
with features, which `clusters-*.tsv` (whole graph) cannot give, and the
parent of a level-l cluster is read from the rows themselves.

A cluster is identified by (level, cluster id): ids need only be unique
within a level. Malformed rows become `Rejection`s (reasons below); duplicate
ids are resolved after the join with the features (see `examples/items.py`).
`read_histogram` reads the size histogram back for the cluster stage's summary.
"""

import logging
from typing import NamedTuple

from pipelines.io.file_system import FileSystems

from pipelines import split
from pipelines.errors import InputError
from pipelines.io import inputs, sharded_io, summary
from pipelines.io.cluster_tables.writer import prefix

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

  Args:
    clusters_dir: the cluster stage's output folder.

  Returns:
    The shards' paths, checked against their manifest.

  Raises:
    InputError: none, or not the whole set its manifest lists (a killed or
      mixed `gcml cluster` run).
  """
  pattern = FileSystems.join(clusters_dir, f"{ASSIGNMENTS}-*.tsv")
  return inputs.check_files(pattern, "--clusters", tfrecord=False, require_manifest=True)


def check_cluster_split(clusters_dir: str, test_fraction: float,
                        validation_fraction: float) -> None:
  """Refuses cluster tables made under another split; warns when they saw test edges.

  Args:
    clusters_dir: the cluster stage's output folder.
    test_fraction: this stage's test share of the cold-start split.
    validation_fraction: this stage's validation share.
  """
  tables_split = summary.read_json(
      FileSystems.join(clusters_dir, summary.SUMMARY_NAME)).get("cluster", {}).get("split")
  split.check_same(tables_split, test_fraction, f"--clusters={clusters_dir}",
                   validation_fraction)
  if tables_split and tables_split.get("clustered_edges") == "all":
    logging.warning("--clusters=%s was clustered over every edge (--cluster_all_edges): test "
                    "items shaped these clusters, so the cold start is not strict",
                    clusters_dir)


def read_header(path: str) -> tuple[str, ...]:
  """Returns the level column names of an assignments file (`l0`, `l1`, ...).

  Args:
    path: one assignments shard.

  Returns:
    The level columns, in order.
  """
  with FileSystems.open(path, compression_type="uncompressed") as f:
    head = f.read(4096).decode("utf-8", errors="replace").split("\n", 1)[0].rstrip("\r")
  fields = head.split("\t")
  if len(fields) < 2 or fields[0] != "id" or any(
      name != f"l{i}" for i, name in enumerate(fields[1:])):
    raise InputError(f"{path}: expected a header 'id\\tl0\\tl1...' (contract 4), got {head!r}")
  return tuple(fields[1:])


def num_levels(paths: list[str]) -> int:
  """Number of levels of the tables; every shard must have the same header.

  Args:
    paths: the assignments shards.

  Returns:
    The number of level columns.
  """
  headers = {read_header(p) for p in paths}
  if len(headers) != 1:
    raise InputError(f"--clusters: the assignment shards disagree on their header: "
                     f"{sorted(headers)}")
  return len(headers.pop())


def parse_assignment(line: str, levels: int) -> Assignment | str | None:
  """Parses one row; returns an Assignment, a rejection reason or None (header/blank).

  Args:
    line: one row, without its newline.
    levels: the number of level columns.

  Returns:
    An `Assignment`, a rejection reason, or None for the header or a blank line.
  """
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


def read_histogram(output_dir: str) -> dict:
  """{level: [(size, clusters), ...]} from cluster_sizes-*.tsv.

  Args:
    output_dir: the stage's output folder.

  Returns:
    {level: sorted (size, clusters) pairs}.
  """
  hist = {}
  paths = inputs.check_files(sharded_io.shard_glob(prefix(output_dir, "cluster_sizes"), ".tsv"),
                             "cluster sizes", tfrecord=False, require_manifest=True)
  for path in paths:
    with FileSystems.open(path) as f:
      for line in f.read().decode("utf-8").splitlines()[1:]:
        level, size, count = map(int, line.split("\t"))
        hist.setdefault(level, []).append((size, count))
  return {level: sorted(pairs) for level, pairs in sorted(hist.items())}
