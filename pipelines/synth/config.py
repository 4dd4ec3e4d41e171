"""What `gcml synth` generates: the configuration of a synthetic world."""

import dataclasses
import math

from pipelines.errors import InputError
from pipelines.features import DEFAULT_MODALITIES

@dataclasses.dataclass(frozen=True)
class SynthConfig:
  """What to generate.

  Attributes:
    num_items: number of items.
    seed: the world's seed; same seed, same bytes.
    branching: (topics, subtopics per topic, micro-clusters per subtopic);
      topics 0 means chosen from num_items and mean_micro_size.
    mean_micro_size: average items per micro-cluster when topics is 0.
    mean_degree: average degree; the edge lines are num_items*mean_degree/2.
    level_mix: share of edges within a micro-cluster, within a subtopic,
      within a topic, and across topics.
    level_weight: typical edge weight at each of those levels.
    weight_noise: sigma of the log-normal weight noise.
    popularity_alpha: Pareto shape of item popularity (smaller: heavier tail).
    latent_dim: size of the latent vectors behind the features.
    modalities: feature vectors to write, with their sizes.
    feature_noise: noise added to each projected feature, relative to signal.
    items_per_shard: items per features/hierarchy shard (also sets the number
      of edge shards).
    processes: worker processes (does not change the output).
  """
  num_items: int = 20000
  seed: int = 0
  branching: tuple = (0, 4, 5)
  mean_micro_size: int = 50
  mean_degree: float = 20.0
  level_mix: tuple = (0.55, 0.25, 0.12, 0.08)
  level_weight: tuple = (8.0, 4.0, 2.0, 1.0)
  weight_noise: float = 0.35
  popularity_alpha: float = 1.5
  latent_dim: int = 32
  modalities: tuple = DEFAULT_MODALITIES
  feature_noise: float = 1.0
  items_per_shard: int = 25000
  processes: int = 2

  def validate(self) -> None:
    if self.num_items < 20:
      raise InputError(f"--num_items must be at least 20, got {self.num_items}")
    t, s, m = self.branching
    if t < 0 or s < 2 or m < 2:
      raise InputError(f"--branching needs topics >= 0 and at least 2 subtopics and 2 "
                       f"micro-clusters per parent, got {self.branching}")
    if len(self.level_mix) != 4 or abs(sum(self.level_mix) - 1) > 1e-6 or min(self.level_mix) < 0:
      raise InputError(f"--level_mix needs 4 non-negative shares summing to 1, got {self.level_mix}")
    if self.mean_degree <= 0 or self.items_per_shard <= 0:
      raise InputError("--mean_degree and --items_per_shard must be positive")

  @property
  def num_edges(self) -> int:
    return int(round(self.num_items * self.mean_degree / 2))

  @property
  def num_shards(self) -> int:
    return max(1, math.ceil(self.num_items / self.items_per_shard))

  def topics(self) -> int:
    t, s, m = self.branching
    if t:
      return t
    return max(2, int(round(self.num_items / (self.mean_micro_size * s * m))))
