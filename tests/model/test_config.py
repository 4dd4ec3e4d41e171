"""`model/config.py`: the embedding network's config, its presets, checks and dict round trip."""

import dataclasses
import json

import pytest

from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError

SMALL = (ModalityConfig("rgb", 6), ModalityConfig("audio", 2))


def test_presets():
  paper = EmbeddingModelConfig.paper()
  assert (paper.hidden_units, paper.embedding_dim, paper.fusion) == ((4000,), 256, "late")
  assert paper.modality_names == ("mean_rgb", "mean_audio")
  demo = EmbeddingModelConfig.demo(dropout=0.1)
  assert (demo.hidden_units, demo.embedding_dim, demo.dropout) == ((256,), 64, 0.1)


def test_output_dim_is_the_input_size_for_identity_linear():
  assert EmbeddingModelConfig(modalities=SMALL, embedding_dim=5).output_dim == 5
  assert EmbeddingModelConfig(modalities=SMALL, tower="identity_linear").output_dim == 8


def test_dict_round_trip_through_json():
  config = EmbeddingModelConfig(modalities=SMALL, hidden_units=(16, 8), embedding_dim=3,
                                projection_activation="tanh", pull_to_init=0.5)
  text = json.dumps(config.to_dict())
  assert EmbeddingModelConfig.from_dict(json.loads(text)) == config


def test_unknown_keys_are_refused():
  with pytest.raises(ConfigError, match=r"^model config: unknown keys \['depth', 'width'\]$"):
    EmbeddingModelConfig.from_dict({"width": 3, "depth": 2})


@pytest.mark.parametrize("changes, message", [
    ({"modalities": ()}, r"at least one modality is required$"),
    ({"modalities": (("rgb", 3),)}, r"modality \('rgb', 3\) is not a ModalityConfig$"),
    ({"modalities": (ModalityConfig("", 3),)}, r"modality name '' must be a non-empty string$"),
    ({"modalities": (ModalityConfig("a", 0),)}, r"modality 'a' dim must be a positive int, got 0$"),
    ({"modalities": (ModalityConfig("a", 1), ModalityConfig("a", 2))},
     r"duplicate modality names in \['a', 'a'\]$"),
    ({"hidden_units": (8, 0)}, r"hidden_units must be positive ints, got \(8, 0\)$"),
    ({"embedding_dim": True}, r"embedding_dim must be a positive int, got True$"),
    ({"fusion": "middle"}, r"fusion must be one of .*, got 'middle'$"),
    ({"activation": "cube"}, r"activation must be one of .*, got 'cube'$"),
    ({"tower": "cnn"}, r"tower must be one of .*, got 'cnn'$"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1.0$"),
    ({"pull_to_init": -1.0}, r"pull_to_init must be a finite number >= 0"),
])
def test_a_bad_field_is_one_line_naming_it(changes, message):
  with pytest.raises(ConfigError, match="^model config: " + message.lstrip("^")):
    dataclasses.replace(EmbeddingModelConfig(modalities=SMALL), **changes).validate()


def test_the_defaults_validate_and_chain():
  config = EmbeddingModelConfig()
  assert config.validate() is config
