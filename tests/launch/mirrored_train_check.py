"""Run by test_train.py in a fresh process: `gcml train --strategy=mirrored`
over 2 logical CPUs (configured before TensorFlow initialises its devices).

argv: DATA_GLOB LABELS_GLOB MODEL_DIR. Prints one JSON line.
"""

import dataclasses
import json
import os
import sys

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
import tensorflow as tf


def main(data, labels, model_dir) -> dict:
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  tf.keras.utils.set_random_seed(0)
  from launch.train import config_from_argv
  from model import trainer
  from model.errors import ConfigError
  from model.strategies import make_strategy

  common = ["--strategy=mirrored", "--modalities=mean_rgb:8,mean_audio:4", "--hidden_units=32",
            "--embedding_dim=16", "--batch_size=32", "--checkpoint_every=5", "--steps_per_loop=3"]
  out = {"replicas": make_strategy("mirrored").num_replicas_in_sync}
  cfg, _ = config_from_argv(common + ["--mode=triplet", f"--train_data={data}",
                                      f"--eval_data={data}", "--eval_steps=2",
                                      f"--model_dir={model_dir}/t", "--train_steps=8"])
  r = trainer.train(cfg)
  out["triplet"] = {"start": r.start_step, "final": r.final_step,
                    "losses": [l for _, l in r.losses], "metrics": r.last_metrics,
                    "eval": r.eval_metrics,
                    "exported": bool(r.export_dir and os.path.isdir(r.export_dir))}
  r = trainer.train(dataclasses.replace(
      cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=10)))
  out["resume"] = {"start": r.start_step, "final": r.final_step}
  cfg, _ = config_from_argv(common + ["--mode=clc", f"--train_data={labels}", "--num_classes=6",
                                      "--num_sampled=4", f"--model_dir={model_dir}/c",
                                      "--train_steps=4"])
  r = trainer.train(cfg)
  out["clc"] = {"final": r.final_step, "losses": [l for _, l in r.losses]}
  # --on_nonfinite=skip applies its update through a cross-replica cond (merge_call).
  r = trainer.train(dataclasses.replace(
      cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=8, on_nonfinite="skip")))
  out["clc_skip"] = {"start": r.start_step, "final": r.final_step,
                     "losses": [l for _, l in r.losses]}
  cfg, _ = config_from_argv(common + ["--mode=triplet", f"--train_data={data}",
                                      f"--model_dir={model_dir}/bad", "--batch_size=33"])
  try:
    trainer.train(cfg)
    out["odd_batch_error"] = None
  except ConfigError as e:
    out["odd_batch_error"] = str(e)
  return out


if __name__ == "__main__":
  print(json.dumps(main(*sys.argv[1:4])))
