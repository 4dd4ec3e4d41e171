"""Run by test_identity_tower.py in a fresh process (logical devices must be configured
before TensorFlow initialises its devices): one `--pull_to_init` training step of the
identity tower under MirroredStrategy over 2 logical CPUs and on one device.

Prints one JSON line: the global loss and the kernel after the step, for each.
"""

import json

import numpy as np

import model  # noqa: F401  pylint: disable=unused-import  (TF_USE_LEGACY_KERAS)
import tensorflow as tf


def main() -> dict:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  # pylint: disable=import-outside-toplevel
  from model.config import EmbeddingModelConfig, ModalityConfig
  from model.steps import make_replica_step
  from model.towers import EmbeddingModel
  from model.trainer_config import TrainConfig
  from model.trainer_config_groups import DataConfig, RuntimeConfig, TrainerConfig

  modalities = (ModalityConfig("rgb", 6), ModalityConfig("audio", 3))
  cfg = TrainConfig(data=DataConfig(train_data="x"), runtime=RuntimeConfig(model_dir="y"),
                    trainer=TrainerConfig(mode="triplet", batch_size=8, optimizer="sgd",
                                          learning_rate=0.1),
                    model=EmbeddingModelConfig.demo(modalities=modalities,
                                                    tower="identity_linear", pull_to_init=0.5))
  rng = np.random.default_rng(0)
  batch = {role: {m.name: rng.normal(size=(8, m.dim)).astype(np.float32) for m in modalities}
           for role in ("anchor", "positive", "negative")}
  batch.update({f"{role}_id": np.arange(8, dtype=np.int64) + 8 * i
                for i, role in enumerate(("anchor", "positive", "negative"))})
  delta = rng.normal(scale=0.1, size=(9, 9)).astype(np.float32)
  devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
  out = {}
  for name, strategy in (("single", tf.distribute.get_strategy()),
                         ("mirrored", tf.distribute.MirroredStrategy(devices))):
    with strategy.scope():
      net = EmbeddingModel(cfg.model)
      net({m.name: tf.zeros([1, m.dim]) for m in modalities})
      net.snapshot_init()
      net.input_projection.kernel.assign_add(delta)
      optimizer = tf.keras.optimizers.SGD(0.1)
      optimizer.build(net.trainable_variables)
    step = make_replica_step(cfg, net, optimizer)
    replicas = strategy.num_replicas_in_sync

    def local(ctx, replicas=replicas):
      half = 8 // replicas
      part = slice(ctx.replica_id_in_sync_group * half, (ctx.replica_id_in_sync_group + 1) * half)
      return tf.nest.map_structure(lambda v: tf.constant(v[part]), batch)

    values = strategy.experimental_distribute_values_from_function(local)
    result = tf.function(lambda v, step=step, strategy=strategy: strategy.run(step, args=(v,)))(
        values)
    loss = strategy.experimental_local_results(result["loss"])[0]
    out[name] = {"replicas": replicas, "loss": float(loss),
                 "penalty": float(net.pull_to_init_loss()),
                 "kernel": net.input_projection.kernel.numpy().tolist()}
  return out


if __name__ == "__main__":
  print(json.dumps(main()))
