"""`make_strategy(name)`: the tf.distribute strategy for `--strategy`.

* `default`: the default (no-op) strategy, one device.
* `mirrored`: all local GPUs, else all logical CPUs; synchronous all-reduce.
* `multi_worker`: `MultiWorkerMirroredStrategy`, cluster from `TF_CONFIG`.
* `parameter_server`: `ParameterServerStrategy` from `TF_CONFIG`
  (`TFConfigClusterResolver`), variables over 256 KiB sharded over the ps
  tasks; the chief (coordinator) drives it through a `ClusterCoordinator`,
  and the `worker` and `ps` tasks only serve (`serve_cluster_task`).
* `tpu`: `TPUStrategy` over `TPUClusterResolver(tpu=NAME)`.
"""

from __future__ import annotations

import logging
import os

import tensorflow as tf

from model.errors import ConfigError
from model.trainer_config_groups import STRATEGIES


def make_strategy(name: str, tpu: str | None = None) -> tf.distribute.Strategy:
  """Builds the strategy; ConfigError for an unknown name or a bad cluster."""
  if name not in STRATEGIES:
    raise ConfigError(f"--strategy must be one of {STRATEGIES}, got {name!r}")
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    if not tf.config.list_logical_devices("GPU"):
      cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
      if len(cpus) > 1:  # logical CPUs (tests): one replica each
        # Not the default collective all-reduce: over logical CPUs its
        # collective instances clash between replicas when a step both
        # all-gathers (semi-hard mining) and all-reduces (metrics): "Shape
        # mismatch in the collective instance ... expected shape [9] but another
        # member expected shape [1536]" (reproduced in the eval step, TF 2.21).
        return tf.distribute.MirroredStrategy(
            cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    return tf.distribute.MultiWorkerMirroredStrategy()
  if name == "parameter_server":
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = resolver.cluster_spec().as_dict()
    if not spec.get("ps") or not spec.get("worker"):
      raise ConfigError("--strategy=parameter_server needs TF_CONFIG with 'ps' and 'worker' tasks")
    # Big variables (the CLC class table) are sharded over the ps tasks.
    partitioner = tf.distribute.experimental.partitioners.MinSizePartitioner(
        min_shard_bytes=256 << 10, max_shards=len(spec["ps"]))
    return tf.distribute.experimental.ParameterServerStrategy(
        resolver, variable_partitioner=partitioner)
  if not tpu:
    raise ConfigError("--strategy=tpu needs --tpu=NAME (or 'local')")
  try:
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
  except (ValueError, tf.errors.OpError) as e:
    raise ConfigError(f"--tpu={tpu}: cannot reach the TPU: {e}") from e
  return tf.distribute.TPUStrategy(resolver)


def serve_cluster_task(name: str) -> bool:
  """For `--strategy=parameter_server` on a `worker` or `ps` task of
  TF_CONFIG: starts this task's gRPC server and blocks serving it (the chief
  runs the training; the cluster manager stops the servers at the end).

  Returns:
    False when this process is not such a task (it should train).
  """
  if name != "parameter_server":
    return False
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  if resolver.task_type not in ("worker", "ps"):
    return False
  config = tf.compat.v1.ConfigProto()
  if resolver.task_type == "worker":
    # Scheduled steps run on the worker's inter-op pool; fewer threads than the
    # coordinator's in-flight closures can deadlock on a small machine.
    config.inter_op_parallelism_threads = max(4, os.cpu_count() or 1)
  server = tf.distribute.Server(resolver.cluster_spec(), job_name=resolver.task_type,
                                task_index=resolver.task_id, config=config,
                                protocol=resolver.rpc_layer or "grpc", start=True)
  logging.info("serving %s:%d of the parameter-server cluster", resolver.task_type,
               resolver.task_id)
  server.join()
  return True
