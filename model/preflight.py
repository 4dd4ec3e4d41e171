"""Checks before the first training step, each a one-line `ConfigError`.

* The input: every shard matched by `--train_data` / `--eval_data` is a
  TFRecord file, at least one holds an example, and the first example carries
  the mode's contract with the model's modalities (`model/input.py`).
* `--num_classes` is not below the classes of `classes.tsv`.
* `--model_dir` can be written (not a path under a file, not read-only).
* A `--model_dir` that already holds checkpoints is resumed only with the
  same mode, network and optimizer as recorded in its `train_config.json`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid

import tensorflow as tf

from model import input as input_lib
from model import input_frames
from model.config import EmbeddingModelConfig
from model.errors import ConfigError
from model.class_table import classes_file, read_num_classes
from model.trainer_config import TrainConfig

CONFIG_FILE = "train_config.json"
# Model fields that may change between runs of one model_dir (no variable depends on them).
_MODEL_FREE = ("dropout",)


def check(config: TrainConfig, kind: str) -> None:
  """All checks of `gcml train`.

  Args:
    config: the validated configuration.
    kind: the input contract, `triplet`, `labels` or `frames` (`model.steps.input_kind`).
  """
  if kind == "frames" and config.data.validation_data:
    raise ConfigError("--validation_data scores video-level items, not frames: validate "
                      "the model fine-tuned from --mode=temporal_contrastive")
  num_classes = config.resolved_num_classes() if config.trainer.mode == "clc" else 0
  if config.trainer.mode == "clc" and config.trainer.num_classes:
    path = classes_file(config.data.train_data)
    if path is not None and read_num_classes(path) > config.trainer.num_classes:
      raise ConfigError(f"--num_classes={config.trainer.num_classes} is below the "
                        f"{read_num_classes(path)} classes of {path}")
  for flag, pattern in (("--train_data", config.data.train_data),
                        ("--eval_data", config.data.eval_data)):
    if pattern and kind == "frames":
      input_frames.check_frame_records(pattern, config.modalities, flag)
    elif pattern:
      input_lib.check_records(input_lib.InputConfig(pattern, kind, config.modalities,
                                                    with_clusters=config.trainer.cluster_masking),
                              flag, num_classes)
  check_model_dir(config)


def check_model_dir(config: TrainConfig) -> None:
  """`--model_dir` is writable and, when it holds checkpoints, compatible."""
  check_writable(config.runtime.model_dir, "--model_dir")
  check_resume(config)


def check_writable(directory: str, flag: str) -> None:
  """Creates `directory` and writes a probe file in it.

  Raises:
    ConfigError: naming the flag, the directory and the system's reason.
  """
  probe = os.path.join(directory, f".write-probe-{uuid.uuid4().hex}")
  try:
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(probe, "w") as f:
      f.write("")
    tf.io.gfile.remove(probe)
  except (tf.errors.OpError, OSError) as e:
    reason = getattr(e, "message", None) or getattr(e, "strerror", None) or str(e)
    raise ConfigError(f"{flag}={directory} cannot be written: "
                      f"{reason.splitlines()[0]}") from None


def has_checkpoints(model_dir: str) -> bool:
  return bool(tf.io.gfile.glob(os.path.join(model_dir, "checkpoints", "ckpt-*")))


def check_resume(config: TrainConfig) -> None:
  """Refuses to resume checkpoints made with another mode, network or optimizer.

  Raises:
    ConfigError: naming each differing setting, old and new.
  """
  path = os.path.join(config.runtime.model_dir, CONFIG_FILE)
  if not has_checkpoints(config.runtime.model_dir) or not tf.io.gfile.exists(path):
    return
  try:
    with tf.io.gfile.GFile(path) as f:
      stored = json.load(f)
  except (ValueError, tf.errors.OpError) as e:
    raise ConfigError(f"{path}: not readable JSON ({e.__class__.__name__}); it records "
                      "the run that wrote the checkpoints beside it") from None
  new = json.loads(json.dumps(config.to_dict(), default=str))
  diffs = [f"--{key} {stored.get(key)!r} -> {new[key]!r}"
           for key in ("mode", "optimizer") if stored.get(key) != new[key]]
  # A setting that an older gcml did not record had its default value then.
  defaults = {f.name: json.loads(json.dumps(f.default, default=str))
              for f in dataclasses.fields(EmbeddingModelConfig)
              if f.default is not dataclasses.MISSING}
  old_model, new_model = {**defaults, **(stored.get("model") or {})}, new["model"]
  diffs += [f"{key} {_flag_value(old_model.get(key))} -> {_flag_value(new_model[key])}"
            for key in new_model if key not in _MODEL_FREE and old_model.get(key) != new_model[key]]
  if diffs:
    raise ConfigError(f"--model_dir={config.runtime.model_dir} holds checkpoints of another run "
                      f"({CONFIG_FILE}): {'; '.join(diffs)}; resume with the same settings "
                      "or use a new --model_dir")


def _flag_value(value) -> str:
  if isinstance(value, list) and value and isinstance(value[0], dict):
    return ",".join(f"{m.get('name')}:{m.get('dim')}" for m in value)
  if isinstance(value, list):
    return ",".join(str(v) for v in value)
  return repr(value)
