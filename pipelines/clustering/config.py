"""What `gcml cluster` builds: its typed configuration and the checks on it."""

import dataclasses
import math
from typing import Literal

from pipelines import config_flags, split
from pipelines.clustering import LINKAGES, SIMILARITIES
from pipelines.errors import InputError


@dataclasses.dataclass
class ClusterConfig:
  """What `gcml cluster` builds (flags of the same names, `pipelines/config_flags.py`).

  Attributes:
    output_dir: where the cluster tables and `summary.json` go.
    levels: rounds, one per level.
    linkage: how the weight between two merged clusters is formed.
    min_weight: edges under this weight are ignored (their items stay).
    max_cluster_size: cap on items per cluster (0: none); see docs/clustering.md.
    seed: seed of the tie-break hash.
    engine: beam: one pipeline, any runner; local: numpy, in memory, the same bytes.
    num_shards: shards per table (0: one per 64 MiB of input).
    jump_passes: pointer-jumping passes per round (0: from the input size).
    partitions: hash partitions of the Beam exchanges (0: one per 32 MiB of
      input, 8 to 4096).
    test_fraction: share of test items of the cold-start split (pipelines/split.py).
    validation_fraction: share of items held out for model selection (not
      clustered either).
    cluster_all_edges: cluster every edge, test items included (production runs
      with no evaluation); default: the train-train subgraph only.
    similarity: edge weights: the input's, or derived from the graph (closed-
      neighbourhood Jaccard, Adamic-Adar); --min_weight applies to them.
    first_round: the round that becomes L0 (levels are rounds K..K+levels-1).
    target_l0_size: L0 is the first round from --first_round whose mean cluster
      size reaches this (0: off).
    max_first_round: with --target_l0_size: the last round searched for L0.
  """
  edges: str
  output_dir: str
  edge_format: str = "auto"
  edge_combine: config_flags.EdgeCombine = "max"
  levels: int = 3
  linkage: Literal[LINKAGES] = "max"
  min_weight: float = 0.0
  max_cluster_size: int = 0
  seed: int = 0
  engine: config_flags.Engine = "beam"
  num_shards: int = 0
  jump_passes: int = 0
  partitions: int = 0
  test_fraction: float = split.TEST_FRACTION
  validation_fraction: float = split.VALIDATION_FRACTION
  cluster_all_edges: bool = False
  similarity: Literal[SIMILARITIES] = "weight"
  first_round: int = 1
  target_l0_size: int = 0
  max_first_round: int = 8

  def check(self) -> None:
    if not 1 <= self.levels <= 16:
      raise InputError(f"--levels must be between 1 and 16, got {self.levels}")
    split.check_fractions(self.test_fraction, self.validation_fraction)
    if self.similarity not in SIMILARITIES:
      raise InputError(f"--similarity must be one of {'|'.join(SIMILARITIES)}, "
                       f"got {self.similarity!r}")
    if self.first_round < 1 or self.target_l0_size < 0:
      raise InputError("--first_round must be >= 1 and --target_l0_size >= 0, got "
                       f"{self.first_round} and {self.target_l0_size}")
    if self.target_l0_size and self.max_first_round < self.first_round:
      raise InputError(f"--max_first_round ({self.max_first_round}) must be >= --first_round "
                       f"({self.first_round})")
    if self.rounds() > 32:
      raise InputError(f"{self.rounds()} rounds asked (--first_round/--max_first_round plus "
                       "--levels - 1); at most 32")
    if not math.isfinite(self.min_weight) or self.min_weight < 0:
      raise InputError(f"--min_weight must be a finite number >= 0, got {self.min_weight}")
    for name in ("max_cluster_size", "num_shards", "jump_passes", "partitions"):
      if getattr(self, name) < 0:
        raise InputError(f"--{name} must be >= 0, got {getattr(self, name)}")

  def rounds(self) -> int:
    """Rounds to run: up to the last level's round (the latest L0 a target may pick)."""
    last_l0 = self.max_first_round if self.target_l0_size else self.first_round
    return last_l0 + self.levels - 1

  def settings(self, edge_files: int) -> dict:
    """What the summary records (the same for both engines)."""
    return {"edges_glob": self.edges, "edge_files": edge_files, "levels": self.levels,
            "linkage": self.linkage, "min_weight": self.min_weight, "seed": self.seed,
            "max_cluster_size": self.max_cluster_size, "edge_combine": self.edge_combine,
            "similarity": self.similarity, "first_round": self.first_round,
            "target_l0_size": self.target_l0_size, "rounds": self.rounds(),
            "split": split.describe(self.test_fraction, self.validation_fraction,
                                    "all" if self.cluster_all_edges else "train_train")}
