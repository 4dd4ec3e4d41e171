"""model/strategies.py: which strategy each `--strategy` gives, and its one-line errors."""

import json

import pytest
import tensorflow as tf

from model import strategies
from model.errors import ConfigError


def test_default_is_the_one_device_strategy():
  strategy = strategies.make_strategy("default")
  assert strategy is tf.distribute.get_strategy()
  assert strategy.num_replicas_in_sync == 1


def test_unknown_name_is_a_config_error():
  with pytest.raises(ConfigError, match=r"--strategy must be one of .*got 'mirror'"):
    strategies.make_strategy("mirror")


def test_tpu_needs_a_name():
  with pytest.raises(ConfigError, match="--strategy=tpu needs --tpu=NAME"):
    strategies.make_strategy("tpu")


def test_parameter_server_needs_ps_and_worker_tasks(monkeypatch):
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"chief": ["localhost:1"]}, "task": {"type": "chief", "index": 0}}))
  with pytest.raises(ConfigError, match="needs TF_CONFIG with 'ps' and 'worker' tasks"):
    strategies.make_strategy("parameter_server")


def test_only_worker_and_ps_tasks_serve(monkeypatch):
  assert strategies.serve_cluster_task("mirrored") is False
  monkeypatch.setenv("TF_CONFIG", json.dumps(
      {"cluster": {"chief": ["localhost:1"], "worker": ["localhost:2"], "ps": ["localhost:3"]},
       "task": {"type": "chief", "index": 0}}))
  assert strategies.serve_cluster_task("parameter_server") is False
