"""What `gcml examples` builds: its typed configuration and the checks on it."""

import dataclasses
from typing import Literal

from pipelines.io.file_system import FileSystems

from pipelines import split
from pipelines import config_flags
from pipelines.errors import InputError
from pipelines.examples import reservoirs, skew_join, smart_negatives

STAGE = "examples"
KINDS = ("smart", "random", "labels", "validation")


@dataclasses.dataclass
class ExamplesConfig:
  """What `gcml examples` builds (flags of the same names, `pipelines/config_flags.py`).

  Attributes:
    kind: smart / random triplets, cluster labels, or the validation set.
    features: feature TFRecord glob(s).
    output_dir: where the examples and `summary.json` go.
    clusters: directory with assignments-*.tsv.
    level: smart: level of the negatives; labels: level of the classes.
    all_levels: smart: a negative from every level for each (anchor, positive),
      each with its level, for gcml train --level_schedule (curriculum).
    positives_per_anchor: positives drawn per anchor.
    num_triplets: keep exactly this many triplets (0: all).
    positive_sampling: positives drawn by edge weight or uniformly.
    max_per_cluster: labels: examples kept per cluster.
    min_cluster_size: labels: smaller clusters get no class.
    seed: seed of every draw.
    reservoir_size: members kept per cluster sample.
    max_children: child clusters kept per parent sample (levels >= 1).
    negative_draws: smart, levels >= 1: seeded draws per slot; the first that
      is not a graph neighbour of the anchor is kept (all neighbours: random
      negative).
    random_fraction: smart: share of (anchor, positive) slots that get a random
      negative instead (seeded per slot; level -1, counted as
      triplets/mixed_random).
    cluster_id_level: smart: also write anchor/cluster and positive/cluster,
      the cluster ids at this level (for gcml train --mode=contrastive
      --cluster_masking); -1: none.
    cluster_positives: smart: per anchor, up to this many more positives drawn
      from its L0 cluster (seeded), besides its graph neighbours.
    num_shards: output shards.
    test_fraction: cold-start test share (must match clustering and evaluation).
    validation_fraction: share of items held out of training for model selection.
    hot_threshold: records per join key above which a key is split.
    engine: docs/engines.md.
  """
  kind: Literal[KINDS]
  features: str
  output_dir: str
  edges: str = ""
  clusters: str = ""
  level: int = 0
  all_levels: bool = False
  positives_per_anchor: int = 5
  num_triplets: int = 0  # 0: no cap
  positive_sampling: Literal["weighted", "uniform"] = "weighted"
  max_per_cluster: int = 50
  min_cluster_size: int = 2
  seed: int = 0
  reservoir_size: int = reservoirs.DEFAULT_RESERVOIR_SIZE
  max_children: int = reservoirs.DEFAULT_MAX_CHILDREN
  negative_draws: int = smart_negatives.DEFAULT_NEGATIVE_DRAWS
  random_fraction: float = 0.0
  cluster_id_level: int = -1  # -1: triplets carry no cluster ids
  cluster_positives: int = 0
  num_shards: int = 8
  test_fraction: float = split.TEST_FRACTION
  validation_fraction: float = split.VALIDATION_FRACTION
  hot_threshold: int = skew_join.DEFAULT_HOT_THRESHOLD
  edge_format: str = "auto"
  edge_combine: config_flags.EdgeCombine = "max"
  modalities: tuple | None = config_flags.modalities_field()  # None: detect from --features
  engine: config_flags.Engine = "beam"

  def validate(self) -> None:
    def need(ok, message):
      if not ok:
        raise InputError(message)
    need(self.kind in KINDS, f"--kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
    need(self.kind == "labels" or self.edges, f"--kind={self.kind} needs --edges")
    need(self.kind in ("random", "validation") or self.clusters,
         f"--kind={self.kind} needs --clusters")
    need(self.level >= 0, f"--level must be 0, 1 or 2, got {self.level}")
    need(self.positives_per_anchor >= 1, "--positives_per_anchor must be at least 1")
    need(self.num_triplets >= 0, "--num_triplets must be >= 0 (0: no cap)")
    need(self.positive_sampling in ("weighted", "uniform"),
         "--positive_sampling must be weighted or uniform")
    need(self.max_per_cluster >= 1, "--max_per_cluster must be at least 1")
    need(self.min_cluster_size >= 1, "--min_cluster_size must be at least 1")
    need(self.reservoir_size >= 1, "--reservoir_size must be at least 1")
    need(self.max_children >= 2, "--max_children must be at least 2")
    need(self.negative_draws >= 1, "--negative_draws must be at least 1")
    need(0.0 <= self.random_fraction <= 1.0, "--random_fraction must be in [0, 1]")
    need(self.kind == "smart" or not self.all_levels, "--all_levels is for --kind=smart")
    need(self.kind == "smart" or self.random_fraction == 0.0,
         "--random_fraction mixes random negatives into --kind=smart only")
    need(self.kind == "smart" or (self.cluster_id_level < 0 and not self.cluster_positives),
         "--cluster_id_level and --cluster_positives are for --kind=smart")
    need(self.cluster_id_level >= -1, "--cluster_id_level must be a level or -1 (none)")
    need(self.cluster_positives >= 0, "--cluster_positives must be >= 0")
    need(self.engine == "beam" or (self.cluster_id_level < 0 and not self.cluster_positives),
         "--cluster_id_level and --cluster_positives run on --engine=beam only (the local "
         "engine does not write them yet)")
    need(self.num_shards >= 1, "--num_shards must be at least 1")
    split.check_fractions(self.test_fraction, self.validation_fraction)
    need(self.hot_threshold >= 1, "--hot_threshold must be at least 1")

  @property
  def output_prefix(self) -> str:
    return FileSystems.join(self.output_dir, "examples" if self.kind == "labels" else "triplets")
