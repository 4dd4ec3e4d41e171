"""Contract 4 cluster tables, the size histogram, summary and plot: one format, both engines.

Outputs under OUTPUT/ (every record goes through `sharded_io`, so the Beam and
the in-memory engine write the same bytes):
* `assignments-*.tsv`  `id\\tl0\\tl1\\tl2`: one line per item of any valid edge;
* `clusters-*.tsv`     `level\\tcluster\\tparent\\tsize`: parent is the cluster
  at the next level (empty at the top), size in items;
* `cluster_sizes-00000-of-00001.tsv`  `level\\tsize\\tclusters`: the histogram
  behind the summary's quantiles and `cluster_sizes.png` (log-log, per level).
"""

import dataclasses
import io
import logging
import math

import apache_beam as beam
import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipelines.io import inputs, sharded_io, summary
from pipelines.clustering import COLLAPSE_SHARE, STAGE, choose_first_round, cluster_id

CLUSTERS_HEADER = "level\tcluster\tparent\tsize"
SIZES_HEADER = "level\tsize\tclusters"
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


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


def level_summary(pairs: list, edges_left: int) -> dict:
  """Clusters, singletons, size quantiles (nearest rank) and edges left of one level."""
  total = sum(n for _, n in pairs)
  quantiles, seen, wanted = {}, 0, [(name, math.ceil(p * total)) for name, p in QUANTILES]
  for size, n in pairs:
    seen += n
    for name, rank in wanted:
      if name not in quantiles and seen >= rank:
        quantiles[name] = size
  sizes = {"min": pairs[0][0] if pairs else 0, **{k: quantiles.get(k, 0) for k, _ in QUANTILES},
           "max": pairs[-1][0] if pairs else 0}
  return {"clusters": total, "singletons": dict(pairs).get(1, 0), "size": sizes,
          "edges_left": edges_left}


def plot_sizes(output_dir: str, hist: dict) -> str:
  """cluster_sizes.png: clusters per size, log-log, one line per level."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
  for level, pairs in hist.items():
    ax.loglog([s for s, _ in pairs], [n for _, n in pairs], marker="o", markersize=3,
              linewidth=1, label=f"L{level}: {sum(n for _, n in pairs)} clusters")
  ax.set_xlabel("cluster size (items)")
  ax.set_ylabel("clusters of that size")
  ax.set_title("Affinity clustering: cluster sizes per level")
  ax.grid(True, which="both", alpha=0.3)
  if hist:
    ax.legend()
  data = io.BytesIO()
  fig.savefig(data, format="png", metadata={"Software": None})
  plt.close(fig)
  path = FileSystems.join(output_dir, "cluster_sizes.png")
  sharded_io.atomic_write(path, data.getvalue())
  return path


def round_summaries(counts: dict, items: int, rounds: int) -> list:
  """Per round built: clusters, mean size, nodes merged and edges left (pops `rounds/*`)."""
  stats = {}
  for key in [k for k in counts if k.startswith("rounds/")]:
    _, r, name = key.split("/")
    stats.setdefault(int(r), {})[name] = counts.pop(key)
  out, clusters = [], items
  for r in range(1, rounds + 1):
    merged = stats.get(r, {}).get("merged", 0)
    clusters -= merged
    out.append({"round": r, "clusters": clusters, "merged": merged,
                "mean_size": round(items / clusters, 3) if clusters else 0.0,
                "edges_left": stats.get(r, {}).get("edges_left", 0)})
  return out


def level_health(level: int, stats: dict, round_stats: dict, items: int) -> dict:
  """Collapse (one cluster over COLLAPSE_SHARE of the items) and no-change flags, logged."""
  share = stats["size"]["max"] / items if items else 0.0
  health = {"round": round_stats["round"], "largest_share": round(share, 4),
            "collapsed": share > COLLAPSE_SHARE, "unchanged": round_stats["merged"] == 0}
  if health["collapsed"]:
    logging.warning("cluster: level L%d collapsed: its largest cluster holds %d of %d items "
                    "(%.1f%%); try --similarity=jaccard|adamic_adar, --linkage=average or "
                    "--max_cluster_size", level, stats["size"]["max"], items, 100 * share)
  if health["unchanged"]:
    logging.warning("cluster: level L%d (round %d) changed nothing: it equals the round "
                    "before (%d edges left)", level, round_stats["round"],
                    round_stats["edges_left"])
  return health


def finish_summary(output_dir: str, counts: dict, settings: dict) -> dict:
  """Writes the `cluster` section of summary.json and the plot; returns the section."""
  counts = dict(counts)
  counts.pop("items", None)
  for name in ("edges/under_min_weight",) + (
      ("edges/touching_test",) if settings["split"].get("clustered_edges") == "train_train"
      else ()):
    counts.setdefault(name, 0)
  hist = read_histogram(output_dir)
  items = sum(s * n for s, n in hist.get(0, []))
  rounds = round_summaries(counts, items, settings["rounds"])
  searched = settings["rounds"] - settings["levels"] + 1
  first = choose_first_round(items, [r["merged"] for r in rounds[:searched]],
                             settings["first_round"], settings["target_l0_size"])
  levels = []
  for level in range(settings["levels"]):
    round_stats = rounds[first - 1 + level]
    stats = dict(level=level, **level_summary(hist.get(level, []), round_stats["edges_left"]))
    stats.update(level_health(level, stats, round_stats, items))
    levels.append(stats)
  section = dict(sorted(counts.items()))
  section.update(settings)
  section["items"] = items
  section["l0_round"] = first
  section["rounds_stats"] = rounds
  section["level_stats"] = levels
  summary.update_summary(output_dir, STAGE, section)
  plot_sizes(output_dir, hist)
  return section
