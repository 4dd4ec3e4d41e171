"""`model/errors.py`: ConfigError, a bad training flag or value reported in one line."""

import pytest

from model.errors import ConfigError
from model.trainer_config import TrainConfig


def test_config_error_is_a_value_error():
  # Callers that validate with `except ValueError` keep catching it.
  assert issubclass(ConfigError, ValueError)
  assert str(ConfigError("--batch_size must be positive")) == "--batch_size must be positive"


def test_a_bad_train_config_raises_it():
  with pytest.raises(ConfigError, match=r"^--train_data is required$"):
    TrainConfig().validate()
