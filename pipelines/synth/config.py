"""What `gcml synth` generates: the configuration of a synthetic world."""

import dataclasses
import math

from pipelines.errors import InputError
from pipelines.io.features import DEFAULT_MODALITIES

RELATEDNESS = ("uniform", "graded")
CONTENT = ("dense", "words")
POSITION_DIM = 2  # size of an item's position inside its micro-cluster (graded worlds)


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
    preset: the name of the preset this config started from (recorded in
      synth.json; the fields are what counts).
    relatedness: how the partner of a within-micro-cluster edge is chosen:
      `uniform` (by popularity alone: every pair of a micro-cluster is
      equally related) or `graded` (items also have a position inside their
      micro-cluster, and the edge probability and weight fall with the
      distance of the two positions).
    graded_width: with `graded`, the width of the distance kernel, in units
      of the spread of positions (positions are standard normal, 2-d).
    item_spread: scale of an item's own part of its latent vector (with
      `graded` this part is its position inside the micro-cluster).
    content: `dense` (noisy projections of the latent vectors) or `words`
      (sparse bag-of-words counts; each modality's size is its vocabulary).
    words_per_item: with `words`, the mean number of word tokens per item.
    word_mix: with `words`, the shares of an item's tokens drawn from its
      topic's, its subtopic's and its micro-cluster's word lists and from
      the background distribution over the whole vocabulary.
    unit_weights: every edge weight is 1 (an unweighted graph).
    frames: also write frame-level features, `frames-*.tfrecord` (frames.py).
    min_frames: with `frames`, the fewest frames an item has.
    max_frames: with `frames`, the most frames an item has.
    frame_drift: with `frames`, the drift's scale relative to the vector's spread.
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
  preset: str = "planted"
  relatedness: str = "uniform"
  graded_width: float = 0.5
  item_spread: float = 0.5
  content: str = "dense"
  words_per_item: float = 40.0
  word_mix: tuple = (0.15, 0.15, 0.6, 0.1)
  unit_weights: bool = False
  # Frame-level features (issue 18).
  frames: bool = False
  min_frames: int = 10
  max_frames: int = 30
  frame_drift: float = 0.5

  def validate(self) -> None:
    """Raises InputError naming the first flag whose value cannot work."""
    if self.num_items < 20:
      raise InputError(f"--num_items must be at least 20, got {self.num_items}")
    t, s, m = self.branching
    if t < 0 or s < 2 or m < 2:
      raise InputError(f"--branching needs topics >= 0 and at least 2 subtopics and 2 "
                       f"micro-clusters per parent, got {self.branching}")
    for name in ("level_mix", "word_mix"):
      mix = getattr(self, name)
      if len(mix) != 4 or abs(sum(mix) - 1) > 1e-6 or min(mix) < 0:
        raise InputError(f"--{name} needs 4 non-negative shares summing to 1, got {mix}")
    if self.mean_degree <= 0 or self.items_per_shard <= 0:
      raise InputError("--mean_degree and --items_per_shard must be positive")
    if self.relatedness not in RELATEDNESS:
      raise InputError(f"--relatedness must be one of {', '.join(RELATEDNESS)}, "
                       f"got {self.relatedness!r}")
    if self.content not in CONTENT:
      raise InputError(f"--content must be one of {', '.join(CONTENT)}, got {self.content!r}")
    if self.graded_width <= 0 or self.item_spread < 0:
      raise InputError("--graded_width must be positive and --item_spread non-negative")
    if self.frames and not 1 <= self.min_frames <= self.max_frames:
      raise InputError(f"--min_frames and --max_frames need 1 <= min <= max, got "
                       f"{self.min_frames} and {self.max_frames}")
    if self.words_per_item < 1:
      raise InputError(f"--words_per_item must be at least 1, got {self.words_per_item}")

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
