"""The cold-start split a model was trained under, carried from its data to its export.

`gcml examples` records the split it used (`pipelines/split.describe`: the
hash scheme and the test fraction) in the `examples` section of the
`summary.json` beside its shards. The trainer reads that record for every
input (`--train_data`, `--eval_data`), refuses inputs made under different
splits, and keeps the record in `MODEL_DIR/split.json`, so that `gcml export`
can pass it on to `gcml evaluate`, which refuses embeddings of a model
trained under another split than the one it evaluates on. A resumed
`model_dir` must keep its split. Inputs without a record (hand-made files)
are accepted and nothing is checked for them.

This module uses TensorFlow's file API only (no Beam), like the rest of
`model/`.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from model.errors import ConfigError

SPLIT_FILE = "split.json"
_KEYS = ("scheme", "test_fraction", "validation_fraction")


def recorded_split(glob: str) -> dict | None:
  """The split recorded by the stage that wrote the files of `glob`, if any.

  Args:
    glob: one file glob (no commas); its folder's `summary.json` is read.

  Returns:
    The `split` record of the first stage section that has one, or None.
  """
  path = os.path.join(os.path.dirname(glob), "summary.json")
  if not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path) as f:
      summary = json.load(f)
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ConfigError(f"{path} is not valid JSON ({e})") from None
  for section in summary.values():
    if isinstance(section, dict) and isinstance(section.get("split"), dict):
      return {k: section["split"][k] for k in _KEYS if k in section["split"]}
  return None


def _differ(a: dict, b: dict) -> bool:
  return any(a.get(k) != b.get(k) for k in _KEYS)


def _describe(record: dict) -> str:
  return f"test_fraction={record.get('test_fraction')} ({record.get('scheme')})"


def record_split(model_dir: str, data_globs: list[str], write: bool = True) -> dict | None:
  """Checks that every input and an earlier run agree on the split, and records it.

  Args:
    model_dir: the training run's folder; `split.json` is written there.
    data_globs: the input globs (comma-separated lists allowed).
    write: whether to write `split.json` (the chief writes, other tasks check).

  Returns:
    The split record, or None when no input carries one.

  Raises:
    ConfigError: two inputs, or an input and the earlier run in `model_dir`,
      were made under different splits.
  """
  found = {}
  for globs in data_globs:
    for glob in filter(None, (g.strip() for g in (globs or "").split(","))):
      record = recorded_split(glob)
      if record is not None:
        found[glob] = record
  split, source = None, None
  for glob, record in found.items():
    if split is not None and _differ(split, record):
      raise ConfigError(f"inputs made under different cold-start splits: {source} has "
                        f"{_describe(split)}, {glob} has {_describe(record)}")
    split, source = split or record, source or glob
  path = os.path.join(model_dir, SPLIT_FILE)
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      earlier = json.load(f)
    if split is not None and _differ(earlier, split):
      raise ConfigError(f"{model_dir} was trained under {_describe(earlier)}, but {source} "
                        f"was made under {_describe(split)}: use another --model_dir")
    split = split or earlier
  if split is not None and write:
    tf.io.gfile.makedirs(model_dir)
    tmp = path + ".tmp"
    with tf.io.gfile.GFile(tmp, "w") as f:
      json.dump(split, f, sort_keys=True)
    tf.io.gfile.rename(tmp, path, overwrite=True)
  return split


def model_split(model_dir: str) -> dict | None:
  """The split recorded for a trained model: `split.json` in `model_dir` or its parent.

  `model_dir` may be a `gcml train --model_dir` or its `export/` SavedModel.
  """
  for folder in (model_dir, os.path.dirname(os.path.normpath(model_dir))):
    path = os.path.join(folder, SPLIT_FILE)
    if tf.io.gfile.exists(path):
      with tf.io.gfile.GFile(path) as f:
        return json.load(f)
  return None
