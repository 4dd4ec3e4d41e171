"""`gcml cluster`: affinity clustering of the edge graph into L0..L2 cluster tables.

Reads contract 1 (edges), writes contract 4 (`assignments-*.tsv`,
`clusters-*.tsv`), `cluster_sizes-*.tsv`, `cluster_sizes.png`, refused records
under `rejected/cluster-*.tsv` and the `cluster` section of `summary.json`.
The algorithm is in `pipelines/clustering/__init__.py`. Two engines give the
same bytes: `--engine=beam` (default; one pipeline, all rounds, no
intermediate files; any Beam runner options pass through) and
`--engine=local` (numpy, for graphs that fit in memory).
"""

import argparse
import dataclasses
import logging
import math
import time

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pipelines import edges as edges_lib
from pipelines import inputs, rejected, runner, sharded_io, summary
from pipelines.clustering import LINKAGES, STAGE, node_bound, round_jump_passes
from pipelines.clustering import affinity_beam, affinity_local, local_io, tables
from pipelines.errors import InputError

COMPRESSED_FACTOR = 64
OUTPUTS = (("assignments", ".tsv"), ("clusters", ".tsv"), ("cluster_sizes", ".tsv"))


@dataclasses.dataclass
class ClusterConfig:
  edges: str
  output_dir: str
  edge_format: str = "auto"
  edge_combine: str = "max"
  levels: int = 3
  linkage: str = "max"
  min_weight: float = 0.0
  max_cluster_size: int = 0
  seed: int = 0
  engine: str = "beam"
  num_shards: int = 0
  jump_passes: int = 0
  partitions: int = 0

  def check(self) -> None:
    if not 1 <= self.levels <= 16:
      raise InputError(f"--levels must be between 1 and 16, got {self.levels}")
    if not math.isfinite(self.min_weight) or self.min_weight < 0:
      raise InputError(f"--min_weight must be a finite number >= 0, got {self.min_weight}")
    for name in ("max_cluster_size", "num_shards", "jump_passes", "partitions"):
      if getattr(self, name) < 0:
        raise InputError(f"--{name} must be >= 0, got {getattr(self, name)}")

  def settings(self, edge_files: int) -> dict:
    """What the summary records (the same for both engines)."""
    return {"edges_glob": self.edges, "edge_files": edge_files, "levels": self.levels,
            "linkage": self.linkage, "min_weight": self.min_weight, "seed": self.seed,
            "max_cluster_size": self.max_cluster_size, "edge_combine": self.edge_combine}


def parse_args(argv):
  p = argparse.ArgumentParser(prog="gcml cluster", description=__doc__.splitlines()[0])
  d = ClusterConfig("", "")
  p.add_argument("--edges", required=True, help="edge files: glob(s), comma-separated")
  p.add_argument("--output_dir", required=True)
  p.add_argument("--edge_format", default=d.edge_format, help="csv|tsv|tfrecord|auto")
  p.add_argument("--edge_combine", default=d.edge_combine, choices=("max", "sum"))
  p.add_argument("--levels", type=int, default=d.levels, help="rounds, one per level")
  p.add_argument("--linkage", default=d.linkage, choices=LINKAGES)
  p.add_argument("--min_weight", type=float, default=d.min_weight,
                 help="edges under this weight are ignored (their items stay)")
  p.add_argument("--max_cluster_size", type=int, default=d.max_cluster_size,
                 help="cap on items per cluster (0: none); see docs/clustering.md")
  p.add_argument("--seed", type=int, default=d.seed, help="seed of the tie-break hash")
  p.add_argument("--engine", default=d.engine, choices=("beam", "local"))
  p.add_argument("--num_shards", type=int, default=d.num_shards,
                 help="shards per table (0: one per 64 MiB of input)")
  p.add_argument("--jump_passes", type=int, default=d.jump_passes,
                 help="pointer-jumping passes per round (0: from the input size)")
  p.add_argument("--partitions", type=int, default=d.partitions,
                 help="hash partitions of the Beam exchanges (0: one per 32 MiB of input, "
                 "8 to 4096)")
  known, pipeline_args = p.parse_known_args(argv)
  config = ClusterConfig(**{f.name: getattr(known, f.name) for f in dataclasses.fields(ClusterConfig)})
  config.check()
  return config, pipeline_args


def default_partitions(sizes: list) -> int:
  """One exchange partition per 32 MiB of input: a partition's table stays small."""
  return min(4096, max(8, math.ceil(sum(sizes) / (32 << 20))))


def file_sizes(paths: list) -> list:
  return [result.metadata_list[0].size_in_bytes for result in FileSystems.match(paths)]


def content_bound_sizes(paths: list, sizes: list) -> list:
  """File sizes for the node bound; compressed files count 64 times their size."""
  return [size * (1 if CompressionTypes.detect_compression_type(path) ==
                  CompressionTypes.UNCOMPRESSED else COMPRESSED_FACTOR)
          for path, size in zip(paths, sizes)]


def build(pipeline: beam.Pipeline, config: ClusterConfig, paths: list, edge_format: str,
          passes: list, num_shards: int, partitions: int) -> None:
  """The whole Beam job: read, all rounds, tables, rejected records, stats."""
  read = pipeline | "ReadEdges" >> edges_lib.ReadEdges(
      paths, edge_format, config.edge_combine, STAGE, min_weight=0.0)
  min_weight = config.min_weight
  split = read.edges | "SplitByMinWeight" >> beam.FlatMap(
      lambda e: [(e.src, e.dst, e.weight, 1, 1)] if e.weight >= min_weight else
      [beam.pvalue.TaggedOutput("ignored", (e.src, e.dst))]).with_outputs("ignored", main="kept")
  under = split.ignored | "UnderMinWeight" >> beam.Map(lambda _: ("edges/under_min_weight", 1))
  assignments, level_stats = ((split.kept, split.ignored)
                              | "AffinityClustering" >> affinity_beam.AffinityClustering(
                                  config.levels, passes, partitions, config.seed,
                                  config.linkage, config.max_cluster_size))
  _ = assignments | "WriteTables" >> tables.WriteClusterTables(
      config.output_dir, config.levels, num_shards)
  rejection_counts = read.rejected | "WriteRejected" >> rejected.WriteRejected(
      config.output_dir, STAGE)
  _ = ((read.stats, under, rejection_counts, level_stats)
       | "AllStats" >> beam.Flatten()
       | "WriteStats" >> summary.WriteStats(config.output_dir, STAGE))


def run_local(config: ClusterConfig, paths: list, edge_format: str, num_shards: int) -> dict:
  """The in-memory engine; returns the stats under the names the Beam job uses."""
  started = time.time()
  graph = local_io.read_edges_local(paths, edge_format, config.edge_combine, STAGE)
  counts = dict(graph.stats)
  counts.update(local_io.write_rejected_local(config.output_dir, STAGE, graph.rejections))
  kept = graph.weight >= config.min_weight
  if len(graph.src):
    counts["edges/under_min_weight"] = int((~kept).sum())
  read_s = time.time() - started
  reps, edges_left = affinity_local.cluster(
      graph.ids, graph.src[kept], graph.dst[kept], graph.weight[kept], config.levels,
      config.linkage, config.seed, config.max_cluster_size)
  cluster_s = time.time() - started - read_s
  counts.update({f"levels/{level}/edges_left": n for level, n in enumerate(edges_left)})
  tables.write_tables_local(config.output_dir, graph.ids, reps, num_shards)
  logging.info("cluster (local): read %.1fs, %d rounds %.1fs, tables %.1fs", read_s,
               config.levels, cluster_s, time.time() - started - read_s - cluster_s)
  return counts


def run(argv=None) -> dict:
  """Runs `gcml cluster`; returns the `cluster` section of summary.json."""
  config, pipeline_args = parse_args(argv)
  edge_format = edges_lib.edge_format_of(config.edges, config.edge_format)
  paths = inputs.check_files(config.edges, "--edges", edge_format == "tfrecord")
  sizes = file_sizes(paths)
  num_shards = config.num_shards or max(1, min(1024, math.ceil(sum(sizes) / (64 << 20))))
  passes = ([config.jump_passes] * config.levels if config.jump_passes else
            round_jump_passes(node_bound(content_bound_sizes(paths, sizes)), config.levels,
                              config.max_cluster_size))
  if config.engine == "local":
    _prepare_output(config.output_dir)
    counts = run_local(config, paths, edge_format, num_shards)
  else:
    options = runner.pipeline_options(pipeline_args)
    dry_run = runner.is_dry_run(options)
    if not dry_run:
      _prepare_output(config.output_dir)
    pipeline = beam.Pipeline(options=options)
    partitions = config.partitions or default_partitions(sizes)
    build(pipeline, config, paths, edge_format, passes, num_shards, partitions)
    logging.info("cluster (beam): %d rounds, pointer-jumping passes %s, %d partitions, "
                 "%d shards", config.levels, passes, partitions, num_shards)
    runner.run(pipeline, "gcml cluster")
    if dry_run:
      return {}
    counts = summary.merge_stats_into_summary(config.output_dir, STAGE)
  section = tables.finish_summary(config.output_dir, counts, config.settings(len(paths)))
  top = section["level_stats"][-1]
  print(f"cluster: {section['items']} items; clusters per level "
        f"{[s['clusters'] for s in section['level_stats']]}; top level max size "
        f"{top['size']['max']}; see {config.output_dir}/summary.json")
  return section


def _prepare_output(output_dir: str) -> None:
  """Creates the output folder and removes earlier tables (any shard count)."""
  sharded_io.ensure_dir(output_dir)
  for name, suffix in OUTPUTS:
    sharded_io.remove_shards(FileSystems.join(output_dir, name), suffix)
