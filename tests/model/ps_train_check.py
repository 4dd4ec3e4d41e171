"""Run by test_parameter_server.py in a fresh process (a hang cannot block pytest):
`--strategy=parameter_server` CLC training on an in-process cluster (the
coordinator in this process, 2 workers, 2 parameter servers, grpc on 127.0.0.1)
with the class table (and the network) sharded over the 2 ps by
`FixedShardsPartitioner(2)`.

argv: LABELS_GLOB MODEL_DIR STEPS STEPS_PER_LOOP. Prints one JSON line.
"""

import json
import multiprocessing
import os
import sys

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from launch import tf_startup
from tests.model.shards import free_ports

tf_startup.install()  # os._exit below skips exit handlers: the next start-up removes the folder
import tensorflow as tf  # pylint: disable=wrong-import-position




def create_in_process_cluster(num_workers: int, num_ps: int):
  """`multi_worker_test_base.create_in_process_cluster`: one grpc server per
  worker and ps in this process; returns the coordinator's cluster resolver."""
  ports = free_ports(num_workers + num_ps)
  cluster = {"worker": [f"127.0.0.1:{p}" for p in ports[:num_workers]],
             "ps": [f"127.0.0.1:{p}" for p in ports[num_workers:]]}
  spec = tf.train.ClusterSpec(cluster)
  # Each worker server runs the scheduled functions on its inter-op pool; with
  # fewer threads than workers + 1 (default: the core count, 2 here) the
  # in-process cluster can deadlock.
  config = tf.compat.v1.ConfigProto()
  config.inter_op_parallelism_threads = int(os.environ.get(
      "PS_CHECK_INTER_OP", max(num_workers + 1, multiprocessing.cpu_count())))
  servers = [tf.distribute.Server(spec, job_name="worker", task_index=i, config=config,
                                  protocol="grpc", start=True) for i in range(num_workers)]
  servers += [tf.distribute.Server(spec, job_name="ps", task_index=i, protocol="grpc",
                                   start=True) for i in range(num_ps)]
  resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(spec, rpc_layer="grpc")
  return resolver, servers


def main(labels, model_dir, steps, steps_per_loop) -> dict:
  os.environ.setdefault("GRPC_FAIL_FAST", "use_caller")
  tf.keras.utils.set_random_seed(0)
  from launch.train import config_from_argv
  from model import train_objects, trainer

  resolver, servers = create_in_process_cluster(2, 2)
  strategy = tf.distribute.experimental.ParameterServerStrategy(
      resolver, variable_partitioner=tf.distribute.experimental.partitioners.FixedShardsPartitioner(2))
  cfg, _ = config_from_argv([
      "--strategy=parameter_server", "--mode=clc", f"--train_data={labels}",
      f"--model_dir={model_dir}", "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32",
      "--embedding_dim=16", "--batch_size=32", "--num_classes=6", "--num_sampled=4",
      f"--train_steps={steps}", "--summary_every=10", "--checkpoint_every=20",
      "--learning_rate=0.01", f"--steps_per_loop={steps_per_loop}",
      "--on_nonfinite=skip"])  # its update goes through a cond on the workers
  tables = []

  class Table(train_objects.ClassEmbeddingTable):  # records the table the trainer builds
    def __init__(self, *a, **k):
      super().__init__(*a, **k)
      tables.append(self)

  train_objects.ClassEmbeddingTable = Table
  r = trainer.train(cfg, strategy=strategy)
  emb = tables[0].embeddings
  out = {"table_shards": [list(v.shape) for v in getattr(emb, "variables", [emb])],
         "table_devices": [v.device for v in getattr(emb, "variables", [emb])],"start": r.start_step, "final": r.final_step, "losses": [l for _, l in r.losses],
         "export_dir": r.export_dir,
         "exported": bool(r.export_dir and os.path.isfile(os.path.join(r.export_dir,
                                                                       "saved_model.pb")))}
  del servers
  return out


if __name__ == "__main__":
  print(json.dumps(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))),
        flush=True)
  sys.stdout.flush()
  os._exit(0)  # the in-process grpc servers never shut down cleanly
