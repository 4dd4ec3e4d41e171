"""model/trainer_config_flags.py: a preset, then the explicit flags on top."""

import pytest

from model import train_presets
from model.config import ModalityConfig
from model.errors import ConfigError
from model.trainer_config import TrainConfig
from model.trainer_config_flags import parse_modalities, preset_values


def test_explicit_flags_override_the_preset_and_land_in_their_group():
  config = TrainConfig.from_flags(preset="paper", mode="clc", batch_size=32, seed=4,
                                  hidden_units="32,16", clip_len=None)
  assert config.trainer.batch_size == 32  # explicit
  assert config.trainer.learning_rate == train_presets.PAPER["clc"]["learning_rate"]  # preset
  assert (config.runtime.seed, config.data.clip_len) == (4, 8)  # None: not given
  assert config.model.hidden_units == (32, 16)
  assert config.model.embedding_dim == 256  # the paper network's


def test_no_preset_keeps_the_dataclass_defaults():
  network, values = preset_values(None, {"margin": 0.3, "modalities": "a:3,b:1"})
  assert values == {"margin": 0.3}
  assert network.modalities == (ModalityConfig("a", 3), ModalityConfig("b", 1))


def test_bad_values_are_one_line_errors():
  with pytest.raises(ConfigError, match=r"^--preset must be one of \('paper', 'demo'\)"):
    TrainConfig.from_flags(preset="huge")
  with pytest.raises(ConfigError, match=r"^--level_schedule takes comma-separated levels"):
    TrainConfig.from_flags(level_schedule="2,x")
  with pytest.raises(ConfigError, match=r"^train config: unknown keys \['activation'\]"):
    TrainConfig.from_flags(activation="tanh")  # a network field without a flag


def test_modalities_parse_from_text_or_pairs():
  assert parse_modalities([("rgb", 4)]) == (ModalityConfig("rgb", 4),)
  with pytest.raises(ConfigError):
    parse_modalities("rgb")
