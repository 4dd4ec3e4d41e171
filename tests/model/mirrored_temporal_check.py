"""Run by test_temporal_train.py in a fresh process: `gcml train --mode=temporal_contrastive
--strategy=mirrored` over 2 logical CPUs.

argv: FRAMES_GLOB MODEL_DIR. Prints one JSON line: the mirrored run's first loss,
the loss of the same initial model on the global batch (one device), and the mean
of the two replicas' local-batch losses (what the loss would be without the gather).
"""

import json
import sys

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf


def main(frames, model_dir) -> dict:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  from launch.train import config_from_argv
  from model import train_inputs, trainer
  from model.losses.temporal_contrastive import temporal_contrastive_loss

  cfg, _ = config_from_argv(["--mode=temporal_contrastive", "--strategy=mirrored",
                             f"--train_data={frames}", f"--model_dir={model_dir}",
                             "--hidden_units=32", "--embedding_dim=16", "--batch_size=16",
                             "--train_steps=3", "--steps_per_loop=3", "--shuffle_buffer=0",
                             "--deterministic", "--frame_dropout=0", "--feature_dropout=0",
                             "--modality_dropout=0"])
  # The initial weights (deterministic: seeded) and the first global batch on one device.
  tf.keras.utils.set_random_seed(cfg.runtime.seed)
  from model.temporal_tower import MASK_KEY, TemporalEmbeddingModel
  reference = TemporalEmbeddingModel(cfg.model)  # built as TrainObjects builds it
  reference({**{n: tf.zeros([1, 1, d]) for n, d in cfg.modalities},
             MASK_KEY: tf.ones([1, 1], tf.bool)})
  batch = next(iter(train_inputs.frame_dataset(cfg, cfg.trainer.batch_size, for_eval=False)))
  za, zb = reference(batch["a"]), reference(batch["b"])
  ids = batch["video_id"]
  global_loss = float(temporal_contrastive_loss(za, zb, cfg.trainer.temperature, ids))
  half = cfg.trainer.batch_size // 2
  local = [float(temporal_contrastive_loss(za[s], zb[s], cfg.trainer.temperature, ids[s]))
           for s in (slice(0, half), slice(half, None))]
  result = trainer.train(cfg)
  return {"replicas": 2, "losses": [l for _, l in result.losses],
          "global_loss": global_loss, "local_mean": sum(local) / 2,
          "exported": bool(result.export_dir)}


if __name__ == "__main__":
  print(json.dumps(main(*sys.argv[1:3])))
