"""`gcml train --init_from=DIR`: start a fresh run from a pre-trained network's weights.

DIR is a training run's `model_dir` (its newest checkpoint in `checkpoints/`),
a checkpoint prefix, or a SavedModel folder (`model_dir/export`). A checkpoint
holds the network under `model/`: a video-level `EmbeddingModel` directly, a
`TemporalEmbeddingModel` (`--mode=temporal_contrastive`) as
`model/video_model/` (plus its frame scorers), matched by path; a SavedModel
lists the variables, matched by name (`network_name`). The weights loaded are the video-level network's, whichever side is temporal: a
triplet, CLC or contrastive run starts from a pre-trained temporal tower, and
a temporal run from a video-level model (its scorers keep their zero start).

The modalities recorded in the source run's `train_config.json` (when there
is one) must be the target's, in the same order (a frame-level `rgb` is the
video-level `mean_rgb`, YouTube-8M's names); every variable of the target
network must be in the source with the same shape, and the source's network
must have no variable the target lacks (a modality it does not have): otherwise a one-line `ConfigError` names
the variable. Values are copied as they are (no optimizer state, no step).
"""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

from model.errors import ConfigError
from pipelines.io.frame_features import frame_name

log = logging.getLogger(__name__)
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
TEMPORAL_PREFIX = "model/video_model/"


def source_checkpoint(directory: str) -> str:
  """The checkpoint prefix that `--init_from=directory` names (not a SavedModel).

  Args:
    directory: a model_dir or a checkpoint prefix.

  Returns:
    A prefix readable by `tf.train.load_checkpoint`.

  Raises:
    ConfigError: nothing readable there.
  """
  for candidate in (tf.train.latest_checkpoint(os.path.join(directory, "checkpoints")),
                    tf.train.latest_checkpoint(directory), directory):
    if candidate and tf.io.gfile.exists(candidate + ".index"):
      return candidate
  raise ConfigError(f"--init_from={directory}: no checkpoint (checkpoints/ckpt-N), "
                    "SavedModel or checkpoint prefix there")


def variable_keys(root: tf.Module, prefix: str) -> dict:
  """Checkpoint key (without `VALUE_SUFFIX`) -> variable, for every variable under `root`.

  The keys are the object-graph paths `tf.train.Checkpoint(model=...)` writes,
  found by the same breadth-first traversal (`_trackable_children`); the first
  path to a variable wins, as in a checkpoint.

  Args:
    root: the network.
    prefix: the path of `root`, e.g. `model/`.

  Returns:
    dict of key -> tf.Variable.
  """
  found, seen, queue = {}, set(), [(prefix.rstrip("/"), root)]
  while queue:
    path, obj = queue.pop(0)
    if id(obj) in seen:
      continue
    seen.add(id(obj))
    if isinstance(obj, tf.Variable):
      found[path] = obj
      continue
    children = obj._trackable_children(save_type="checkpoint")  # pylint: disable=protected-access
    for name, child in children.items():
      queue.append((f"{path}/{name}", child))
  return found


def recorded_modalities(directory: str) -> tuple | None:
  """The modalities in the pre-trained run's `train_config.json` (in `directory` or,
  for its `export/`, the folder above), as (name, dim) pairs; None without one."""
  for folder in (directory, os.path.dirname(os.path.normpath(directory))):
    path = os.path.join(folder, "train_config.json")
    if tf.io.gfile.exists(path):
      try:
        with tf.io.gfile.GFile(path) as f:
          mods = json.load(f)["model"]["modalities"]
        return tuple((m["name"], int(m["dim"])) for m in mods)
      except (ValueError, KeyError, TypeError, tf.errors.OpError):
        return None
  return None


def network_name(variable) -> str:
  """A variable's name inside the video-level network: the model's own name and a
  temporal model's `video_model/` dropped, the modality's frame-level name
  (`embedding_model_3/mean_rgb_tower_hidden_0/kernel:0` -> `rgb_tower_hidden_0/kernel`)."""
  name = variable.name.split(":")[0]
  name = name.split("/", 1)[1] if "/" in name else name
  name = name[len("video_model/"):] if name.startswith("video_model/") else name
  return frame_name(name)


def _pull_anchor(key: str) -> bool:
  """Whether a variable is a W0 copy of `--pull_to_init` (towers.py): not a weight, never
  loaded; the target records its own after loading."""
  return "/init_kernels/" in key or key.endswith("_init")


def _from_checkpoint(directory: str, network) -> tuple:
  """(path read, {key: shape}, {key: target variable}, key -> value) of a checkpoint."""
  path = source_checkpoint(directory)
  reader = tf.train.load_checkpoint(path)
  shapes = {k[:-len(VALUE_SUFFIX)]: list(s) for k, s in reader.get_variable_to_shape_map().items()
            if k.endswith(VALUE_SUFFIX)}
  prefix = TEMPORAL_PREFIX if any(k.startswith(TEMPORAL_PREFIX) for k in shapes) else "model/"
  shapes = {k: s for k, s in shapes.items()
            if k.startswith(prefix) and not k.startswith("model/scorers/")
            and not _pull_anchor(k)}
  wanted = {prefix + key[len("model/"):]: var
            for key, var in variable_keys(network, "model/").items() if not _pull_anchor(key)}
  return path, shapes, wanted, lambda key: reader.get_tensor(key + VALUE_SUFFIX)


def _from_saved_model(directory: str, network) -> tuple:
  """The same of a SavedModel: its variables matched by `network_name` (a Keras
  model's SavedModel tracks them as a list, not by path)."""
  loaded = tf.saved_model.load(directory)
  source = {network_name(v): v for v in loaded.model.variables
            if "_frame_score/" not in v.name and not _pull_anchor(network_name(v))}
  return (directory, {k: v.shape.as_list() for k, v in source.items()},
          {network_name(v): v for v in network.variables if not _pull_anchor(network_name(v))},
          lambda key: source[key].numpy())


def load(model: tf.keras.Model, directory: str) -> str:
  """Copies the pre-trained network's weights from `directory` into `model`.

  Args:
    model: an `EmbeddingModel` or a `TemporalEmbeddingModel` with its variables built.
    directory: `--init_from`.

  Returns:
    The checkpoint prefix or SavedModel read.

  Raises:
    ConfigError: no checkpoint, other modalities, or a variable missing, extra
      or of another shape.
  """
  network = getattr(model, "video_model", model)
  recorded = recorded_modalities(directory)
  have = tuple((m.name, m.dim) for m in network.config.modalities)
  if recorded is not None and [(frame_name(n), d) for n, d in recorded] != [
      (frame_name(n), d) for n, d in have]:
    raise ConfigError(f"--init_from={directory} was trained on modalities "
                      f"{','.join(f'{n}:{d}' for n, d in recorded)}, the model has "
                      f"{','.join(f'{n}:{d}' for n, d in have)}; name the same ones in the "
                      "same order")
  read = _from_saved_model if tf.saved_model.contains_saved_model(directory) \
      else _from_checkpoint
  path, shapes, wanted, value = read(directory, network)
  for key, var in wanted.items():
    if key not in shapes:
      raise ConfigError(f"--init_from={directory}: {path} has no variable {key} for "
                        f"{network_name(var)} {var.shape.as_list()}; pre-train with the same "
                        "network and modalities")
    if shapes[key] != var.shape.as_list():
      raise ConfigError(f"--init_from={directory}: variable {network_name(var)} ({key}) has "
                        f"shape {shapes[key]} there, the model needs {var.shape.as_list()}; "
                        "pre-train with the same network and modalities")
  extra = sorted(k for k in shapes if k not in wanted)
  if extra:
    raise ConfigError(f"--init_from={directory}: {path} has variable {extra[0]} that the model "
                      "lacks (another modality or network); pre-train with the same network "
                      "and modalities")
  for key, var in wanted.items():
    var.assign(value(key))
  log.info("init_from: %d variables from %s", len(wanted), path)
  return path
