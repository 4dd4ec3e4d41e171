"""The export's model side: the SavedModel, its inputs, one batch in, embeddings out.

Shared by the Beam engine (`pipelines/export/stage.py`, through RunInference) and
the in-memory engine (`pipelines/export/local.py`), so both call the model
on the same arrays in the same way.
"""

from __future__ import annotations

import functools

import numpy as np
from pipelines.io.file_system import FileSystems

from pipelines.io.modality_spec import canonical_order
from pipelines.io import tf_example
from pipelines.errors import InputError

STAGE = "export"
# A temporal model's (`gcml train --mode=temporal_contrastive`) frame mask input:
# `model.temporal_tower.MASK_KEY` (tested equal; pipelines/ does not import model/ here).
FRAME_MASK = "frame_mask"


def saved_model_path(model_dir: str) -> str:
  """The SavedModel under `model_dir`: itself, or `model_dir/export` (gcml train).

  Args:
    model_dir: a SavedModel folder or a `gcml train --model_dir`.

  Returns:
    The SavedModel's folder.

  Raises:
    InputError: neither holds a saved_model.pb.
  """
  if FileSystems.exists(FileSystems.join(model_dir, "saved_model.pb")):
    return model_dir
  export = FileSystems.join(model_dir, "export")
  if FileSystems.exists(FileSystems.join(export, "saved_model.pb")):
    return export
  raise InputError(f"--model_dir: no SavedModel (saved_model.pb) in {model_dir} "
                   f"or {export}")


def load(path: str):
  """The SavedModel at `path`, loaded once per process while its saved_model.pb is unchanged.

  Args:
    path: the SavedModel's folder.

  Returns:
    The loaded SavedModel.
  """
  pb = FileSystems.join(path, "saved_model.pb")
  stamp = None
  if FileSystems.exists(pb):
    found = FileSystems.match([pb])[0].metadata_list
    stamp = (found[0].size_in_bytes, found[0].last_updated_in_seconds) if found else None
  return _load(path, stamp)


@functools.lru_cache(maxsize=2)
def _load(path: str, stamp):  # pylint: disable=unused-argument
  import model  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return tf.saved_model.load(path)


def signature_modalities(path: str) -> tuple:
  """The modalities (name, dim) of the SavedModel's serving signature.

  Args:
    path: the SavedModel's folder.

  Returns:
    `features.Modality` tuples, larger first, then by name (the order
    `pipelines/io/modalities.py` detects them in).
  """
  sig = load(path).signatures["serving_default"]
  specs = sig.structured_input_signature[1]
  return canonical_order((name, int(spec.shape[-1])) for name, spec in specs.items()
                         if name != FRAME_MASK)


def takes_frames(path: str) -> bool:
  """Whether the SavedModel embeds frame-level inputs (its signature has `frame_mask`).

  Args:
    path: the SavedModel's folder.

  Returns:
    True for a temporal model: it reads frame-level feature files.
  """
  sig = load(path).signatures["serving_default"]
  return FRAME_MASK in sig.structured_input_signature[1]


def stack_batch(pairs):
  """[(id, {modality: vector or [frames, dim]})] -> (ids, {input: stacked array}).

  Frame-level features (2-D per item) are zero-padded to the batch's longest
  video and get the `frame_mask` input ([n, frames] bool, True on real frames).

  Args:
    pairs: one fixed batch, ids ascending.

  Returns:
    (ids, {modality: stacked float32 array, and `frame_mask` for frames}).
  """
  ids = tuple(item_id for item_id, _ in pairs)
  names = list(pairs[0][1])
  if np.ndim(pairs[0][1][names[0]]) == 1:
    return ids, {name: np.stack([features[name] for _, features in pairs]).astype(np.float32)
                 for name in names}
  lengths = [len(features[names[0]]) for _, features in pairs]
  longest = max(lengths)
  out = {}
  for name in names:
    block = np.zeros((len(pairs), longest, pairs[0][1][name].shape[-1]), np.float32)
    for row, (_, features) in enumerate(pairs):
      block[row, :len(features[name])] = features[name]
    out[name] = block
  out[FRAME_MASK] = np.arange(longest)[None, :] < np.asarray(lengths)[:, None]
  return ids, out


def embed_batch(fn, features: dict) -> np.ndarray:
  """One model call on a stacked batch.

  Args:
    fn: the SavedModel's `serving_default` signature.
    features: modality name -> [n, dim] float32 (`stack_batch`).

  Returns:
    The embeddings, [n, d], as the model returns them.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  return fn(**{name: tf.constant(features[name])
               for name in fn.structured_input_signature[1]})["embedding"].numpy()


def embedding_record(item_id: str, vector) -> tuple[str, bytes]:
  """(id, serialized tf.train.Example with `id` and `embedding`): contract 7's record.

  Args:
    item_id: the item.
    vector: its embedding.

  Returns:
    (sort key, record bytes).
  """
  return item_id, tf_example.encode({"id": item_id,
                                     "embedding": np.asarray(vector, np.float32)})


def embedding_records(ids, matrix: np.ndarray) -> list[tuple[str, bytes]]:
  """`embedding_record` of every (id, row), encoded in bulk (the same bytes).

  Args:
    ids: the items.
    matrix: float32 [n, d]: row i is the embedding of ids[i].

  Returns:
    [(sort key, record bytes)], in row order.
  """
  return list(zip(ids, tf_example.encode_id_vectors(ids, matrix, "id", "embedding")))
