"""What `gcml cluster` builds: its typed configuration and the checks on it."""

import dataclasses
import math

from pipelines import split
from pipelines.clustering import SIMILARITIES
from pipelines.errors import InputError


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
  test_fraction: float = split.TEST_FRACTION
  validation_fraction: float = split.VALIDATION_FRACTION
  cluster_all_edges: bool = False
  similarity: str = "weight"
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
