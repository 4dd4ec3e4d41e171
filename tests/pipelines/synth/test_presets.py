"""`pipelines/synth/presets.py`: named worlds, explicit values on top of a preset's."""

import dataclasses

import pytest

from pipelines.errors import InputError
from pipelines.io.modality_spec import Modality
from pipelines.synth.config import SynthConfig
from pipelines.synth.presets import DEFAULT_PRESET, PRESETS, config_for


def test_the_default_preset_is_the_default_config():
  assert DEFAULT_PRESET == "planted"
  assert config_for() == SynthConfig()


def test_a_preset_sets_its_fields_and_records_its_name():
  config = config_for("strong_content")
  assert (config.preset, config.content, config.relatedness) == ("strong_content", "words",
                                                                 "graded")
  assert config.modalities == (Modality("words", 1433),)
  assert config.num_items == 20000  # not set by the preset: the default


def test_explicit_values_win_over_the_preset():
  config = config_for("small", mean_degree=4.0, seed=9)
  assert (config.num_items, config.mean_degree, config.unit_weights, config.seed) == (
      3000, 4.0, True, 9)


def test_every_preset_names_real_fields_and_validates():
  names = {f.name for f in dataclasses.fields(SynthConfig)}
  for name, preset in PRESETS.items():
    assert set(preset.fields) <= names - {"preset"}, name
    assert preset.summary and "\n" not in preset.summary, name
    config_for(name).validate()


def test_an_unknown_preset_is_one_line():
  with pytest.raises(InputError, match=r"^--preset must be one of planted, graded, "
                                       r"strong_content, small, got 'tiny'$"):
    config_for("tiny")
