"""Writing cluster tables (contract 4): ids, rows, and the Beam and in-memory writers.

Both engines of the cluster stage write through `sharded_io` with the same sort
keys, so their tables are byte-identical.
"""

import numpy as np
from pipelines.io.file_system import FileSystems

from pipelines.io import sharded_io

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
  """The path prefix of one of the three tables.

  Args:
    output_dir: the stage's output folder.
    name: `assignments`, `clusters` or `cluster_sizes`.

  Returns:
    `OUTPUT/name`.
  """
  return FileSystems.join(output_dir, name)


def assignments_header(levels: int) -> str:
  """The header line of `assignments-*.tsv`.

  Args:
    levels: the number of levels.

  Returns:
    `id\tl0\tl1...`.
  """
  return "id\t" + "\t".join(f"l{level}" for level in range(levels))


def assignment_record(item: str, reps) -> tuple:
  """An item's row of `assignments-*.tsv`.

  Args:
    item: the item's id.
    reps: its cluster's representative at each level.

  Returns:
    (sort key, line).
  """
  return item, item + "".join(f"\tl{level}-{rep}" for level, rep in enumerate(reps))


def cluster_record(level: int, rep: str, parent_rep, size: int) -> tuple:
  """A cluster's row of `clusters-*.tsv`.

  Args:
    level: the cluster's level.
    rep: its representative item.
    parent_rep: the representative of its cluster one level up, or None at the top.
    size: its size in items.

  Returns:
    (sort key, line).
  """
  name = cluster_id(level, rep)
  parent = "" if parent_rep is None else cluster_id(level + 1, parent_rep)
  return name, f"{level}\t{name}\t{parent}\t{size}"


def size_record(level: int, size: int, count: int) -> tuple:
  """A row of the size histogram `cluster_sizes-*.tsv`.

  Args:
    level: the level.
    size: a cluster size.
    count: how many clusters of the level have that size.

  Returns:
    (sort key, line).
  """
  return f"{level:04d}\t{size:012d}", f"{level}\t{size}\t{count}"


def write_tables_local(output_dir: str, ids: list, reps: list, num_shards: int) -> None:
  """The same tables from reps[level][item] (indices into the sorted `ids`).

  Args:
    output_dir: the stage's output folder.
    ids: every item's id, sorted.
    reps: per level, each item's representative as an index into `ids` (numpy arrays).
    num_shards: shards of the assignments and clusters tables.
  """
  levels = len(reps)
  names = np.array(ids, dtype=np.dtypes.StringDType())
  lines = names
  for level, r in enumerate(reps):  # assignment_record's lines, built by columns
    lines = np.strings.add(np.strings.add(lines, f"\tl{level}-"), names[r])
  del names
  sharded_io.write_sorted_shards_local(
      zip(ids, lines.tolist()), prefix(output_dir, "assignments"), ".tsv", num_shards,
      header=assignments_header(levels))
  del lines
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
