"""model/trainer_config.py: the grouped TrainConfig and its flat `train_config.json`."""

import json
import pathlib

import pytest

from model.config import EmbeddingModelConfig, ModalityConfig
from model.errors import ConfigError
from model.trainer_config import TrainConfig
from model.trainer_config_groups import DataConfig, RuntimeConfig, TrainerConfig

# Written by `gcml train` before the config had groups (a 2-step triplet run with
# --seed=3 --dropout=0.1 --learning_rate=0.01 --batch_size=16 --checkpoint_every=2).
FLAT_FILE = pathlib.Path(__file__).with_name("train_config_flat.json")


def test_a_file_written_before_the_groups_reads_identically():
  text = FLAT_FILE.read_text()
  config = TrainConfig.from_dict(json.loads(text))
  assert config.trainer.mode == "triplet"
  assert (config.trainer.batch_size, config.trainer.train_steps) == (16, 2)
  assert config.trainer.learning_rate == 0.01
  assert (config.runtime.seed, config.runtime.checkpoint_every) == (3, 2)
  assert config.runtime.model_dir == "/tmp/lc/run_before/model"
  assert config.data.train_data == "/tmp/lc/run_before/examples/triplets-*"
  assert config.data.level_schedule == ()
  assert config.model.modalities == (ModalityConfig("mean_rgb", 8), ModalityConfig("mean_audio", 4))
  assert (config.model.hidden_units, config.model.embedding_dim) == ((16,), 8)
  assert config.model.dropout == 0.1
  assert config.to_json() == text  # the same keys, order and values, byte for byte


def test_a_config_round_trips_through_train_config_json():
  config = TrainConfig(
      data=DataConfig(train_data="t-*", eval_data="e-*", level_schedule=(2, 1, 0), clip_len=4),
      model=EmbeddingModelConfig.demo(modalities=(ModalityConfig("rgb", 6),),
                                      hidden_units=(32, 16), tower="residual"),
      trainer=TrainerConfig(mode="clc", batch_size=8, num_sampled=None, sampler="unigram",
                            patience=2, init_from="pre"),
      runtime=RuntimeConfig(model_dir="m", strategy="mirrored", seed=7, deterministic=True))
  again = TrainConfig.from_dict(json.loads(config.to_json()))
  assert again == config
  flat = config.to_dict()
  assert list(flat)[:7] == ["mode", "train_data", "eval_data", "model_dir", "strategy", "tpu",
                            "batch_size"]
  assert list(flat)[-2:] == ["init_from", "model"]
  assert (flat["level_schedule"], flat["num_sampled"], flat["seed"]) == ((2, 1, 0), None, 7)
  assert flat["model"]["hidden_units"] == (32, 16)


def test_keys_an_older_version_did_not_write_keep_their_defaults():
  config = TrainConfig.from_dict({"mode": "contrastive", "batch_size": 32})
  assert (config.trainer.mode, config.trainer.batch_size) == ("contrastive", 32)
  assert config.data.clip_len == 8 and config.model == EmbeddingModelConfig.demo()


def test_an_unknown_key_is_one_error_naming_it():
  with pytest.raises(ConfigError, match=r"^train config: unknown keys \['batch'\]$"):
    TrainConfig.from_dict({"batch": 3})


def test_intervals_fall_back_to_the_checkpoint_cadence():
  config = TrainConfig(trainer=TrainerConfig(eval_every=5),
                       runtime=RuntimeConfig(checkpoint_every=40))
  assert (config.eval_interval(), config.validation_interval()) == (5, 40)
