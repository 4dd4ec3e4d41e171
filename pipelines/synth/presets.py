"""Named worlds for `gcml synth --preset=NAME`; explicit flags override a preset's values.

* `planted` (the default): today's world. Every pair of items in a
  micro-cluster is equally related (the partner of an edge is chosen by
  popularity alone), and content is a dense noisy projection of the latent
  vectors.
* `graded`: graded relatedness inside micro-clusters, as in co-watch logs.
  Items have a position inside their micro-cluster; the probability of an
  edge between two of them, and its weight, fall with their distance, so a
  non-neighbour in the anchor's micro-cluster is on average less related
  than its neighbours. The dense content shows the position too.
* `strong_content`: one sparse, high-dimensional bag-of-words modality
  (`words`, 1,433 words, about 40 tokens per item from topic-dependent word
  lists, stored as float counts) whose raw cosine is already a strong
  retriever of graph neighbours, as on a citation graph. Its edges are
  graded, and an item's micro-cluster words depend on its position, so the
  words tell apart the items of a micro-cluster that the graph links.
* `small`: 3,000 items and mean degree about 2, unweighted (every weight
  1). `mean_degree` counts edge lines, and a few lines repeat a pair, so
  2.2 lines per item give about 2 distinct edges per item.
"""

import dataclasses
from collections.abc import Mapping

from pipelines.errors import InputError
from pipelines.io.features import Modality
from pipelines.synth.config import SynthConfig

DEFAULT_PRESET = "planted"


@dataclasses.dataclass(frozen=True)
class Preset:
  """A named world: the SynthConfig fields it sets (the rest keep their defaults).

  Attributes:
    summary: one line for --help and the README.
    fields: SynthConfig field name -> value.
  """
  summary: str
  fields: Mapping[str, object]


PRESETS = {
    "planted": Preset("every pair in a micro-cluster equally related; dense projected content",
                      {}),
    "graded": Preset("edge probability and weight fall with the distance of two items "
                     "inside their micro-cluster",
                     {"relatedness": "graded", "item_spread": 1.0}),
    "strong_content": Preset("sparse 1,433-word bag-of-words content whose raw cosine "
                             "retrieves graph neighbours well",
                             {"content": "words", "modalities": (Modality("words", 1433),),
                              "relatedness": "graded"}),
    "small": Preset("3,000 items, mean degree about 2 (distinct edges), every weight 1",
                    {"num_items": 3000, "mean_degree": 2.2, "unit_weights": True}),
}


def config_for(preset: str = DEFAULT_PRESET, **overrides) -> SynthConfig:
  """The config of a preset, with explicit values on top.

  Args:
    preset: a name in PRESETS.
    **overrides: SynthConfig fields that win over the preset's values.

  Returns:
    The SynthConfig, its `preset` field set to the name.

  Raises:
    InputError: if the preset is unknown.
  """
  if preset not in PRESETS:
    raise InputError(f"--preset must be one of {', '.join(PRESETS)}, got {preset!r}")
  return SynthConfig(**{**PRESETS[preset].fields, **overrides, "preset": preset})
