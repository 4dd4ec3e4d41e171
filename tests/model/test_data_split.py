"""`model/data_split.py`: the trainer checks that its inputs and an earlier run agree on the
cold-start split, and records it in `split.json`."""

import json
import os

import pytest

from model import data_split
from model.errors import ConfigError
from pipelines import split
from tests.pipelines.split_summaries import write_split_summary


def test_trainer_refuses_inputs_of_different_splits(tmp_path):
  train = write_split_summary(tmp_path / "train", "examples", split.describe(0.3))
  held_out = write_split_summary(tmp_path / "eval", "examples", split.describe(0.2))
  with pytest.raises(ConfigError, match="different cold-start splits"):
    data_split.record_split(str(tmp_path / "model"), [train, held_out])
  assert data_split.record_split(str(tmp_path / "model"), [train]) == split.describe(0.3)
  assert data_split.model_split(str(tmp_path / "model" / "export")) == split.describe(0.3)
  # Resuming the model_dir on data of another split is refused.
  with pytest.raises(ConfigError, match="was trained under test_fraction=0.3"):
    data_split.record_split(str(tmp_path / "model"), [held_out])


def test_inputs_without_a_record_give_none(tmp_path):
  assert data_split.recorded_split(str(tmp_path / "triplets-*.tfrecord")) is None
  assert data_split.record_split(str(tmp_path / "model"), [str(tmp_path / "x-*"), None]) is None
  assert not os.path.exists(tmp_path / "model")
  assert data_split.model_split(str(tmp_path / "model")) is None


def test_the_first_stage_section_with_a_split_is_read(tmp_path):
  (tmp_path / "summary.json").write_text(json.dumps({
      "validate": {"rows": 3}, "examples": {"split": {"scheme": "s", "test_fraction": 0.3,
                                                      "validation_fraction": 0.1, "x": 1}}}))
  assert data_split.recorded_split(str(tmp_path / "t-*")) == {
      "scheme": "s", "test_fraction": 0.3, "validation_fraction": 0.1}


def test_a_summary_that_is_not_json_is_one_line(tmp_path):
  (tmp_path / "summary.json").write_text("{not json")
  with pytest.raises(ConfigError, match=r"summary\.json is not valid JSON \("):
    data_split.recorded_split(str(tmp_path / "t-*"))


def test_a_task_that_does_not_write_only_checks(tmp_path):
  train = write_split_summary(tmp_path / "train", "examples", split.describe(0.3))
  assert data_split.record_split(str(tmp_path / "m"), [train], write=False) == split.describe(0.3)
  assert not os.path.exists(tmp_path / "m" / data_split.SPLIT_FILE)
