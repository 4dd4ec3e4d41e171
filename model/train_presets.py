"""The presets of `gcml train --preset=NAME`: one registry, `PRESETS`.

A preset is the mode it trains when `--mode` is not given, the network it
starts from (per mode where a mode has its own tower) and, per mode, the
optimizer, schedule, batch and loss values (`TrainConfig.from_flags` applies
it, then the user's explicit flags). A new preset is one `Preset` entry in
`PRESETS`.

`demo` (the default of `gcml train` and of `gcml demo`) trains the contrastive
mode with the identity-initialised tower: the configuration above raw
features beyond the spread on all four synthetic presets (docs/comparison.md).
Its triplet and CLC modes keep the papers' towers at demo size, so
`--mode=triplet` is still the papers' CDML / GCML method (`--tower` changes it).
`paper` is the papers' methods: triplet mode, 4000/256 towers.
"""

import dataclasses
from collections.abc import Callable

from model.config import EmbeddingModelConfig

# Papers' values (GCML/CDML triplet; CLC). Contrastive has no paper: Adam defaults.
# CLC's sampler is `uniform`: the paper does not name one, and our labels are
# dense ranks in seeded-hash order with at most --max_per_cluster (50) examples
# each, so the class prior is nearly flat and unrelated to the label value;
# log-uniform (TF's default, for frequency-sorted vocabularies) would draw
# class 0 in almost every step and the last classes almost never.
PAPER = {
    "triplet": dict(optimizer="rmsprop", learning_rate=0.1, decay_rate=0.98,
                    decay_steps=300_000, margin=0.5, batch_size=9600),
    "clc": dict(optimizer="sgd", learning_rate=300.0, decay_rate=0.5, decay_steps=200_000,
                batch_size=512, num_sampled=200_000, sampler="uniform"),
    "contrastive": dict(optimizer="adam", learning_rate=1e-3, decay_rate=1.0,
                        decay_steps=100_000, batch_size=1024, temperature=0.1),
    # CVRL's batch (1024 videos) and temperature (0.1), with Adam as contrastive.
    "temporal_contrastive": dict(optimizer="adam", learning_rate=1e-3, decay_rate=1.0,
                                 decay_steps=100_000, batch_size=1024, temperature=0.1),
}
# Demo-size steps take milliseconds: 100 steps per host call (a loop still ends
# at every summary, checkpoint and validation step; the weights are the same
# bits as one step per call, model/train_loop.py) save the per-call overhead.
DEMO_LOOP = dict(steps_per_loop=100)
DEMO = {
    "triplet": dict(optimizer="adam", learning_rate=1e-3, decay_rate=1.0, decay_steps=1000,
                    margin=0.5, batch_size=64, train_steps=200, **DEMO_LOOP),
    "clc": dict(optimizer="adam", learning_rate=1e-3, decay_rate=1.0, decay_steps=1000,
                batch_size=64, num_sampled=64, train_steps=200, **DEMO_LOOP),
    "contrastive": dict(optimizer="adam", learning_rate=1e-3, decay_rate=1.0,
                        decay_steps=1000, batch_size=64, temperature=0.1, train_steps=200,
                        **DEMO_LOOP),
    "temporal_contrastive": dict(optimizer="adam", learning_rate=1e-3, decay_rate=1.0,
                                 decay_steps=1000, batch_size=64, temperature=0.1,
                                 train_steps=200, **DEMO_LOOP),
}


@dataclasses.dataclass(frozen=True)
class Preset:
  """A named starting point of a training run.

  Attributes:
    network: builds the network's config.
    modes: mode -> TrainConfig field values.
    default_mode: the mode when `--mode` is not given.
    mode_towers: mode -> the tower that mode trains instead of the network's.
  """
  network: Callable[[], EmbeddingModelConfig]
  modes: dict
  default_mode: str = "triplet"
  mode_towers: dict = dataclasses.field(default_factory=dict)

  def network_for(self, mode: str) -> EmbeddingModelConfig:
    """The network a run of `mode` starts from.

    Args:
      mode: the trainer mode.

    Returns:
      The network's config (the mode's tower where `mode_towers` names one).
    """
    network = self.network()
    if mode in self.mode_towers:
      network = dataclasses.replace(network, tower=self.mode_towers[mode])
    return network


PRESETS = {"paper": Preset(EmbeddingModelConfig.paper, PAPER),
           "demo": Preset(EmbeddingModelConfig.demo, DEMO, default_mode="contrastive",
                          mode_towers={"contrastive": "identity_linear"})}
