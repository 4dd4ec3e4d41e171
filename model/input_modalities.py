"""`gcml train`'s modalities, named at most once.

When `--modalities` is not given, the trainer takes the modalities that
`gcml examples` recorded in the `examples` section of the `summary.json`
beside `--train_data`; without such a record (hand-made files) it detects
them from the first example (the float features under `anchor/` for
triplets, at the top level for labelled examples; larger first, then by
name, as `pipelines/io/modality_spec.canonical_order`). A given set that
differs from a recorded one, of `--train_data`, `--eval_data` or
`--validation_data`, is a one-line `ConfigError` naming both.

TensorFlow's file API only (no Beam), like the rest of `model/`.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from model import input as input_lib
from model import input_frames
from model.errors import ConfigError
from model.trainer_config_flags import parse_modalities
from pipelines.io import modality_spec


def recorded(glob: str) -> tuple | None:
  """The modalities in the `summary.json` beside `glob` (section `examples`), if any."""
  first = glob.split(",")[0].strip()
  path = os.path.join(os.path.dirname(first), "summary.json")
  if not first or not tf.io.gfile.exists(path):
    return None
  try:
    with tf.io.gfile.GFile(path) as f:
      value = json.load(f).get("examples", {}).get("modalities")
  except (ValueError, AttributeError, tf.errors.OpError):
    return None
  if not isinstance(value, str) or not value:
    return None
  return tuple((m.name, m.dim) for m in parse_modalities(value))


def detected(glob: str, kind: str, flag: str = "--train_data") -> tuple | None:
  """The float features of the first example (triplets: under `anchor/`; frame-level
  files: the quantised feature lists), or None."""
  if kind == "frames":
    for path in input_lib.list_files(glob, flag):
      record = input_lib.first_record(path, flag)
      if record is not None:
        return input_frames.frame_modalities(record)
    return None
  prefix = "anchor/" if kind == "triplet" else ""
  for path in input_lib.list_files(glob, flag):
    record = input_lib.first_record(path, flag)
    if record is None:
      continue
    try:
      features = tf.train.Example.FromString(record).features.feature
    except Exception:  # pylint: disable=broad-except  (the preflight reports it)
      return None
    found = [(k[len(prefix):], len(v.float_list.value)) for k, v in features.items()
             if k.startswith(prefix) and "/" not in k[len(prefix):]
             and v.WhichOneof("kind") == "float_list" and v.float_list.value]
    return tuple(modality_spec.canonical_order(found)) or None
  return None


def resolve(explicit: dict, kind: str) -> None:
  """Fills `explicit["modalities"]` from the inputs when the user gave none.

  Args:
    explicit: the flags the user gave (`TrainConfig.from_flags`'s keywords);
      changed in place.
    kind: the input contract, `triplet` or `labels`.

  Raises:
    ConfigError: given modalities that differ from an input's recorded ones,
      or inputs whose records disagree.
  """
  train_data = explicit.get("train_data")
  if not train_data:
    return
  given = explicit.get("modalities")
  mods = tuple((m.name, m.dim) for m in parse_modalities(given)) if given else None
  source = "--modalities"
  for flag in ("--train_data", "--eval_data", "--validation_data"):
    glob = explicit.get(flag[2:])
    if glob and flag == "--validation_data":  # a folder, not a glob
      glob = os.path.join(glob, "*")
    upstream = recorded(glob) if glob else None
    if upstream is None:
      continue
    where = os.path.join(os.path.dirname(glob.split(",")[0].strip()), "summary.json")
    if mods is None:
      mods, source = upstream, f"{flag}'s {where}"
    elif not modality_spec.same(mods, upstream):
      raise ConfigError(f"{source} names modalities {modality_spec.modalities_flag(mods)} but "
                        f"{where} (gcml examples, {flag}) records "
                        f"{modality_spec.modalities_flag(upstream)}; name the same ones, or "
                        "leave --modalities out to use the recorded ones")
  if mods is None:
    mods = detected(train_data, kind)
  if mods is not None:
    explicit["modalities"] = modality_spec.modalities_flag(mods)
