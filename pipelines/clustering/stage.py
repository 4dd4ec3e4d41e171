"""`gcml cluster`: affinity clustering of the edge graph into L0..L2 cluster tables.

Reads contract 1 (edges), writes contract 4 (`assignments-*.tsv`,
`clusters-*.tsv`), `cluster_sizes-*.tsv`, `cluster_sizes.png`, refused records
under `rejected/cluster-*.tsv` and the `cluster` section of `summary.json`.
By default only the train-train subgraph of the cold-start split is
clustered (`pipelines/split.py`); `--cluster_all_edges` clusters every edge.
The algorithm is in `pipelines/clustering/__init__.py`. Two engines give the
same bytes: `--engine=beam` (default; one pipeline, all rounds, no
intermediate files; any Beam runner options pass through) and
`--engine=local` (numpy, for graphs that fit in memory).
"""

import logging
import math
import time

import numpy as np

from pipelines.io import edge_records, file_system
from pipelines.io.file_system import FileSystems
from pipelines.io import inputs, rejected, sharded_io, summary
from pipelines.io.cluster_tables import writer as cluster_tables
from pipelines import hashing_vectorised, split
from pipelines.clustering import STAGE, choose_first_round, node_bound, round_jump_passes
from pipelines.clustering import affinity_local, report
from pipelines.io import edges_local as local_io
from pipelines.io import stage_run
from pipelines import config_flags
from pipelines.clustering.config import ClusterConfig
from pipelines.clustering import similarity_local

COMPRESSED_FACTOR = 64
OUTPUTS = (("assignments", ".tsv"), ("clusters", ".tsv"), ("cluster_sizes", ".tsv"))
_HASH_RANGE = float(2**64)  # split._SCALE: the split hash is below test_fraction * this


def parse_args(argv) -> tuple[ClusterConfig, list]:
  """Parses `gcml cluster`'s flags into its config and the Beam pipeline options.

  Args:
    argv: the command line after `gcml cluster`.

  Returns:
    (the ClusterConfig, the arguments left for Beam's pipeline options).

  Raises:
    InputError: a flag that neither the stage nor Beam knows, or a bad value (one line).
  """
  return config_flags.parse_stage_config("gcml cluster", __doc__, ClusterConfig, argv)


def default_partitions(sizes: list) -> int:
  """One exchange partition per 32 MiB of input: a partition's table stays small.

  Args:
    sizes: the input files' sizes in bytes.

  Returns:
    The number of partitions, in [8, 4096].
  """
  return min(4096, max(8, math.ceil(sum(sizes) / (32 << 20))))


def file_sizes(paths: list) -> list:
  """The sizes of files in bytes.

  Args:
    paths: the files (any Beam file system).

  Returns:
    Their sizes, in order.
  """
  return [result.metadata_list[0].size_in_bytes for result in FileSystems.match(paths)]


def content_bound_sizes(paths: list, sizes: list) -> list:
  """File sizes for the node bound; compressed files count 64 times their size.

  Args:
    paths: the edge files.
    sizes: their sizes in bytes (`file_sizes`).

  Returns:
    The sizes their content is bounded by.
  """
  return [size * (COMPRESSED_FACTOR if file_system.is_compressed(path) else 1)
          for path, size in zip(paths, sizes)]


def train_train_local(ids: list, src, dst, weight, test_fraction: float,
                      validation_fraction: float = split.VALIDATION_FRACTION):
  """Drops the edges touching a test or validation item, then the items left without an edge.

  Args:
    ids: the sorted item ids.
    src: the edges' first endpoints (numbers into `ids`).
    dst: their second endpoints.
    weight: their weights.
    test_fraction: the split's test fraction.
    validation_fraction: the split's validation fraction.

  Returns:
    (ids, src, dst, weight, {count name: edges dropped}), renumbered: ids stay
    sorted, edges stay in (src, dst) order.
  """
  if ids:  # the fractions' checks, one id
    split.is_train(ids[0], test_fraction, validation_fraction)
  hashes = hashing_vectorised.blake2b64_strings(hashing_vectorised.encoded(ids))  # split_hash
  test = hashing_vectorised.below(hashes, test_fraction * _HASH_RANGE)  # split.is_test
  held = test | ~hashing_vectorised.below(hashes, (1.0 - validation_fraction) * _HASH_RANGE)
  del hashes
  touching_test = test[src] | test[dst] if len(src) else np.zeros(0, bool)
  touching = held[src] | held[dst] if len(src) else np.zeros(0, bool)
  dropped = {"edges/touching_test": int(touching_test.sum())}
  if (touching & ~touching_test).any():
    dropped["edges/touching_validation"] = int((touching & ~touching_test).sum())
  src, dst, weight = src[~touching], dst[~touching], weight[~touching]
  used = np.zeros(len(ids), bool)
  used[src] = True
  used[dst] = True
  number = np.cumsum(used) - 1
  return ([ids[i] for i in np.flatnonzero(used).tolist()], number[src], number[dst], weight,
          dropped)


def run_local(config: ClusterConfig, paths: list, edge_format: str, num_shards: int) -> dict:
  """The in-memory engine: the Beam job's tables and rejected records, in one process.

  Args:
    config: the stage's config.
    paths: the edge files.
    edge_format: csv, tsv or tfrecord.
    num_shards: shards of each cluster table.

  Returns:
    The counts, under the names the Beam job uses.
  """
  with local_io.small_pages():
    return _run_local(config, paths, edge_format, num_shards)


def _run_local(config: ClusterConfig, paths: list, edge_format: str, num_shards: int) -> dict:
  started = time.time()
  graph = local_io.read_edges_local(paths, edge_format, config.edge_combine, STAGE)
  counts = dict(graph.stats)
  counts.update(rejected.write_rejected_local(config.output_dir, STAGE, graph.rejections))
  ids, src, dst, weight = graph.ids, graph.src, graph.dst, graph.weight
  if not config.cluster_all_edges:
    ids, src, dst, weight, dropped = train_train_local(
        ids, src, dst, weight, config.test_fraction, config.validation_fraction)
    counts.update(dropped)
  if config.similarity != "weight":
    weight = similarity_local.similarity_weights(len(ids), src, dst, config.similarity)
  kept = weight >= config.min_weight
  counts["edges/under_min_weight"] = int((~kept).sum())
  read_s = time.time() - started
  reps, edges_left, merged = affinity_local.cluster_rounds(
      ids, src[kept], dst[kept], weight[kept], config.rounds(), config.linkage, config.seed,
      config.max_cluster_size)
  cluster_s = time.time() - started - read_s
  for r, (left, m) in enumerate(zip(edges_left, merged), 1):
    counts[f"rounds/{r}/edges_left"], counts[f"rounds/{r}/merged"] = left, m
  first = choose_first_round(len(ids), merged[:config.rounds() - config.levels + 1],
                             config.first_round, config.target_l0_size)
  cluster_tables.write_tables_local(config.output_dir, ids,
                                    reps[first - 1:first - 1 + config.levels], num_shards)
  logging.info("cluster (local): read %.1fs, %d rounds %.1fs, tables %.1fs", read_s,
               config.rounds(), cluster_s, time.time() - started - read_s - cluster_s)
  return counts


def run(argv=None) -> dict:
  """Runs `gcml cluster` on its command line (`parse_args`, then `run_config`).

  Args:
    argv: the command line after `gcml cluster` (None: `sys.argv[1:]`).

  Returns:
    The `cluster` section of summary.json ({} on a Beam dry run).
  """
  return run_config(*parse_args(argv))


def run_config(config: ClusterConfig, pipeline_args: tuple = ()) -> dict:
  """Clusters the edge graph.

  Args:
    config: what to cluster and how.
    pipeline_args: Beam pipeline options (`--runner=...`), for `--engine=beam`.

  Returns:
    The `cluster` section of summary.json ({} on a Beam dry run).
  """
  config.check()
  edge_format = edge_records.edge_format_of(config.edges, config.edge_format)
  paths = inputs.check_files(config.edges, "--edges", edge_format == "tfrecord")
  sizes = file_sizes(paths)
  num_shards = config.num_shards or max(1, min(1024, math.ceil(sum(sizes) / (64 << 20))))
  passes = ([config.jump_passes] * config.rounds() if config.jump_passes else
            round_jump_passes(node_bound(content_bound_sizes(paths, sizes)), config.rounds(),
                              config.max_cluster_size))
  def build_beam(pipeline):
    partitions = config.partitions or default_partitions(sizes)
    from pipelines.clustering import stage_beam  # pylint: disable=import-outside-toplevel
    stage_beam.build(pipeline, config, paths, edge_format, passes, num_shards, partitions)
    logging.info("cluster (beam): %d rounds, pointer-jumping passes %s, %d partitions, "
                 "%d shards", config.rounds(), passes, partitions, num_shards)

  ran = stage_run.run_engine(
      "gcml cluster", config.engine, pipeline_args, build=build_beam,
      run_local=lambda: run_local(config, paths, edge_format, num_shards),
      prepare_output=lambda: _prepare_output(config.output_dir))
  if ran.dry_run:
    return {}
  counts = ran.local_result
  if counts is None:
    counts = summary.merge_stats_into_summary(config.output_dir, STAGE)
  section = report.finish_summary(config.output_dir, counts, config.settings(len(paths)))
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
