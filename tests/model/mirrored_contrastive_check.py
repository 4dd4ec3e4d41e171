"""Run by test_cluster_masking.py in a fresh process: `gcml train --mode=contrastive
--cluster_masking --strategy=mirrored` over 2 logical CPUs.

argv: ONE_CLUSTER_GLOB DISTINCT_CLUSTERS_GLOB MODEL_DIR. Prints one JSON line:
the losses of each run.
"""

import json
import sys

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf


def main(one_cluster, distinct, model_dir) -> dict:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  tf.keras.utils.set_random_seed(0)
  from launch.train import config_from_argv
  from model import trainer

  common = ["--mode=contrastive", "--tower=mlp", "--cluster_masking", "--strategy=mirrored",
            "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32", "--embedding_dim=16",
            "--batch_size=32", "--train_steps=3", "--steps_per_loop=3"]
  out = {}
  for name, data in (("one_cluster", one_cluster), ("distinct", distinct)):
    cfg, _ = config_from_argv(common + [f"--train_data={data}", f"--model_dir={model_dir}/{name}"])
    result = trainer.train(cfg)
    out[name] = [loss for _, loss in result.losses]
  return out


if __name__ == "__main__":
  print(json.dumps(main(*sys.argv[1:4])))
