"""model/trainer_config_groups.py: the groups of TrainConfig and their flat names."""

import dataclasses

import pytest

from model import trainer_config_groups as groups
from model.errors import ConfigError


def test_the_flat_keys_are_every_group_field_once():
  fields = [f.name for cls in groups.GROUPS.values() for f in dataclasses.fields(cls)]
  assert len(fields) == len(set(fields)) == len(groups.FLAT_KEYS) == 40
  assert set(fields) == set(groups.FLAT_KEYS)


def test_values_are_sorted_into_their_groups():
  grouped = groups.group_values({"seed": 1, "train_data": "x", "margin": 0.2})
  assert grouped == {"data": {"train_data": "x"}, "trainer": {"margin": 0.2},
                     "runtime": {"seed": 1}}
  with pytest.raises(ConfigError, match=r"unknown keys \['hidden', 'modes'\]"):
    groups.group_values({"modes": 1, "hidden": 2, "seed": 0})


def test_the_global_batch_divides_over_the_replicas():
  assert groups.TrainerConfig(batch_size=12).check_replicas(4) == 3
  with pytest.raises(ConfigError, match=r"--batch_size=12 is not divisible by the 5 replicas"):
    groups.TrainerConfig(batch_size=12).check_replicas(5)
