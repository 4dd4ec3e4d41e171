"""`gcml examples`: training examples for GCML, CDML and CLC.

`--kind=smart` writes triplets whose negatives come from the anchor's sibling
clusters (DESIGN.md "Smart negatives"), `--kind=random` triplets with uniform
random negatives (CDML), both as `OUTPUT/triplets-*.tfrecord` (contract 5);
`--kind=labels` writes cluster-labelled examples `OUTPUT/examples-*.tfrecord`
and `OUTPUT/classes.tsv` (contract 6). Every run also writes
`OUTPUT/summary.json` (section `examples`) and `OUTPUT/rejected/examples-*.tsv`.

Examples use train items only (`pipelines/split.py`, shared with evaluation);
edges touching a test or validation item are not used. `--kind=validation`
writes the held-out validation items and their edges instead
(`pipelines/examples/validation_set.py`), for the trainer's model selection. Outputs are byte-identical for the
same inputs and seed, whatever the runner and the number of workers: every
random choice is a seeded hash of stable keys and every output is sorted.
See `pipelines/examples/` for the sampling schemes. The modalities are detected
from the feature records unless `--modalities` names them
(`pipelines/io/modalities.py`), and recorded in the summary for `gcml train`.
"""

import dataclasses
import json
import logging

from pipelines.io.file_system import FileSystems
from pipelines.io import features as features_lib
from pipelines.io import inputs, modalities, sharded_io
from pipelines import split
from pipelines import config_flags
from pipelines.errors import InputError
from pipelines.io import stage_run
from pipelines.examples import cluster_labels, validation_set
from pipelines.io.cluster_tables import reader as tables
from pipelines.examples.config import ExamplesConfig
from pipelines.examples.local import engine as local_engine

STAGE = "examples"


def _beam_engine():
  from pipelines.examples import stage_beam  # pylint: disable=import-outside-toplevel
  return stage_beam


def parse_args(argv) -> tuple[ExamplesConfig, list]:
  """Parses `gcml examples`' flags into its config and the Beam pipeline options.

  Args:
    argv: the command line after `gcml examples`.

  Returns:
    (the ExamplesConfig, the arguments left for Beam's pipeline options).

  Raises:
    InputError: a flag that neither the stage nor Beam knows, or a bad value (one line).
  """
  return config_flags.parse_stage_config("gcml examples", __doc__, ExamplesConfig, argv)


def _extra(config: ExamplesConfig, levels: int) -> dict:
  extra = {"kind": config.kind, "seed": config.seed,
           "split": split.describe(config.test_fraction, config.validation_fraction),
           "features_glob": config.features, "num_shards": config.num_shards,
           "modalities": features_lib.modalities_flag(config.modalities)}
  if config.kind in ("smart", "labels"):
    extra.update(clusters_dir=config.clusters, levels=levels, level=config.level)
  if config.kind == "validation":
    extra.update(edges_glob=config.edges)
  elif config.kind == "labels":
    extra.update(max_per_cluster=config.max_per_cluster,
                 min_cluster_size=config.min_cluster_size)
  else:
    extra.update(edges_glob=config.edges, positives_per_anchor=config.positives_per_anchor,
                 positive_sampling=config.positive_sampling,
                 num_triplets_cap=config.num_triplets)
  if config.kind == "smart":
    extra.update(reservoir_size=config.reservoir_size, max_children=config.max_children,
                 negative_draws=config.negative_draws, random_fraction=config.random_fraction,
                 all_levels=config.all_levels)
    if config.cluster_id_level >= 0 or config.cluster_positives:
      extra.update(cluster_id_level=config.cluster_id_level,
                   cluster_positives=config.cluster_positives)
  return extra


def run(argv=None) -> dict:
  """Runs `gcml examples` on its command line (`parse_args`, then `run_config`).

  Args:
    argv: the command line after `gcml examples` (None: `sys.argv[1:]`).

  Returns:
    The `examples` section of summary.json ({} on a Beam dry run).
  """
  return run_config(*parse_args(argv))


def run_config(config: ExamplesConfig, pipeline_args: tuple = ()) -> dict:
  """Makes the training examples.

  Args:
    config: what to make.
    pipeline_args: Beam pipeline options (`--runner=...`), for `--engine=beam`.

  Returns:
    The `examples` section of summary.json ({} on a Beam dry run).
  """
  config.validate()
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  config = dataclasses.replace(config, modalities=modalities.resolve(config.modalities,
                                                                     feature_paths))
  edge_paths, assignment_paths, levels = [], [], 0
  if config.kind != "labels":
    config, edge_paths = stage_run.resolve_edges(config)
  if config.kind not in ("random", "validation"):
    assignment_paths = tables.assignment_files(config.clusters)
    levels = tables.num_levels(assignment_paths)
    tables.check_cluster_split(config.clusters, config.test_fraction,
                               config.validation_fraction)
    for flag, value in (("--level", config.level), ("--cluster_id_level", config.cluster_id_level)):
      if value >= levels:
        raise InputError(f"{flag}={value} but the cluster tables have {levels} "
                         f"level(s) (l0..l{levels - 1})")
  ran = stage_run.run_engine(
      "gcml examples", config.engine, pipeline_args,
      build=lambda pipeline: _beam_engine().build(pipeline, config, edge_paths, feature_paths,
                                                  assignment_paths, levels),
      run_local=lambda: local_engine.run_local(config, edge_paths, feature_paths,
                                               assignment_paths, levels, STAGE),
      prepare_output=lambda: _prepare_output(config))
  if ran.dry_run:
    return {}
  section = stage_run.write_section(config.output_dir, STAGE, _extra(config, levels))
  logging.info("examples: %s", json.dumps(section, sort_keys=True))
  if config.kind == "validation":
    print(f"examples: {section.get('validation/items', 0)} validation items with "
          f"{section.get('validation/edges', 0)} edges between them; see "
          f"{config.output_dir}/summary.json")
  elif config.kind == "labels":
    print(f"examples: {section.get('examples/total', 0)} labelled examples in "
          f"{section.get('classes/count', 0)} classes; see {config.output_dir}/summary.json")
  else:
    print(f"examples: {section.get('triplets/total', 0)} {config.kind} triplets from "
          f"{section.get('anchors', 0)} anchors; see {config.output_dir}/summary.json")
  return section


def _prepare_output(config: ExamplesConfig) -> None:
  """Creates the output folder and removes earlier outputs (any shard count)."""
  sharded_io.ensure_dir(config.output_dir)
  for prefix, suffix in (("triplets", ".tfrecord"), ("examples", ".tfrecord"),
                         (validation_set.ITEMS, ".tfrecord"), (validation_set.EDGES, ".tsv")):
    sharded_io.remove_shards(FileSystems.join(config.output_dir, prefix), suffix)
  stale_classes = cluster_labels.classes_path(config.output_dir)
  if config.kind != "labels" and FileSystems.exists(stale_classes):
    FileSystems.delete([stale_classes])
