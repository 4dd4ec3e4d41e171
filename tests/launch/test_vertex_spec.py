"""The Vertex AI custom-job spec in launch/vertex_ai/ and the trainer image it runs.

Nothing is submitted: the spec is parsed into Vertex AI's own `CustomJobSpec`
message (unknown or misspelt fields fail), its container args go through
`gcml train`'s parser and config validation, and its image is checked to be
the one docker/trainer.Dockerfile builds (ENTRYPOINT `gcml train`).
"""

import json
import pathlib
import re

import pytest
import yaml

from launch import tf_config, train

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "launch" / "vertex_ai").glob("*.yaml"))


def _load(path):
  with open(path) as f:
    return yaml.safe_load(f)


def test_there_is_a_spec():
  assert [p.name for p in SPECS] == ["train_multi_worker.yaml"]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_is_a_vertex_custom_job_spec(path):
  from google.cloud import aiplatform_v1 as aiplatform  # apache-beam[gcp], in the dev extra
  spec = _load(path)
  # gcloud rejects snake_case keys in --config files; json_format rejects unknown fields.
  keys = re.findall(r"['\"](\w+)['\"]:", json.dumps(spec))
  assert not [k for k in keys if "_" in k]
  message = aiplatform.types.CustomJobSpec.from_json(json.dumps(spec))
  pools = message.worker_pool_specs
  assert len(pools) >= 1
  for pool in pools:
    assert pool.machine_spec.machine_type
    assert pool.replica_count >= 1
    assert pool.container_spec.image_uri and not pool.python_package_spec.package_uris


def test_multi_worker_pools_are_what_vertex_expects():
  spec = _load(ROOT / "launch" / "vertex_ai" / "train_multi_worker.yaml")
  pools = spec["workerPoolSpecs"]
  # Pool 0 is the primary replica (TF_CONFIG task "chief"): exactly one. Pool 1
  # the workers. No parameter-server (2) or evaluator (3) pool for multi_worker.
  assert len(pools) == 2
  assert pools[0]["replicaCount"] == 1 and pools[1]["replicaCount"] >= 1
  # MultiWorkerMirroredStrategy: every replica runs the same program and flags.
  assert pools[0]["containerSpec"] == pools[1]["containerSpec"]
  assert "command" not in pools[0]["containerSpec"]  # the image's ENTRYPOINT: gcml train
  assert pools[0]["machineSpec"] == pools[1]["machineSpec"]


def test_container_args_are_a_valid_train_config():
  spec = _load(ROOT / "launch" / "vertex_ai" / "train_multi_worker.yaml")
  pools = spec["workerPoolSpecs"]
  # The flags only: the gs:// inputs cannot be read here.
  config, args = train.config_from_argv(pools[0]["containerSpec"]["args"], read_inputs=False)
  assert config.runtime.strategy == "multi_worker" and config.trainer.mode == "triplet"
  assert args.preset == "paper" and not args.export_only
  assert config.data.train_data.startswith("gs://")
  assert config.runtime.model_dir.startswith("gs://")
  replicas = sum(p["replicaCount"] for p in pools)  # one CPU replica per machine
  assert config.trainer.check_replicas(replicas) * replicas == config.trainer.batch_size


def test_vertex_tf_config_layout_makes_pool_zero_the_chief():
  # The TF_CONFIG Vertex AI writes (cluster with "chief" and "worker") has the
  # same layout as launch.tf_config with --chief; the trainer's chief test is
  # task type "chief" there, and worker 0 only when there is no chief.
  from model import train_runtime  # pylint: disable=import-outside-toplevel

  class Resolver:

    def __init__(self, cfg):
      self.task_type, self.task_id = cfg["task"]["type"], cfg["task"]["index"]
      self._cluster = cfg["cluster"]

    def cluster_spec(self):
      return type("Spec", (), {"as_dict": lambda _: self._cluster})()

  class Strategy:

    def __init__(self, cfg):
      self.cluster_resolver = Resolver(cfg)

  hosts = ["w1:2222", "w2:2222", "w3:2222"]
  chief = tf_config.tf_config(hosts, 0, chief="c:2222", task_type="chief")
  worker0 = tf_config.tf_config(hosts, 0, chief="c:2222")
  assert sorted(chief["cluster"]) == ["chief", "worker"]
  assert train_runtime.is_chief(Strategy(chief))  # pylint: disable=protected-access
  assert not train_runtime.is_chief(Strategy(worker0))  # pylint: disable=protected-access


def test_spec_image_is_the_trainer_dockerfile():
  dockerfile = (ROOT / "docker" / "trainer.Dockerfile").read_text()
  assert 'ENTRYPOINT ["gcml", "train"]' in dockerfile
  assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.M)
  assert "-c /tmp/gcml/constraints.txt" in dockerfile
  spec = _load(ROOT / "launch" / "vertex_ai" / "train_multi_worker.yaml")
  image = spec["workerPoolSpecs"][0]["containerSpec"]["imageUri"]
  assert image.endswith("/gcml/trainer:0.1.0")
  assert f"-t {image} ." in dockerfile  # the build command in the Dockerfile's header
