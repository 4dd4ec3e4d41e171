"""The export's model side: the SavedModel, its inputs, one batch in, embeddings out.

Shared by the Beam engine (`pipelines/export/stage.py`, through RunInference) and
the in-memory engine (`pipelines/export/local.py`), so both call the model
on the same arrays in the same way.
"""

from __future__ import annotations

import numpy as np
from apache_beam.io.filesystems import FileSystems

from pipelines.io.modality_spec import canonical_order
from pipelines.io import tf_example
from pipelines.errors import InputError

STAGE = "export"


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


def signature_modalities(path: str) -> tuple:
  """The modalities (name, dim) of the SavedModel's serving signature.

  Args:
    path: the SavedModel's folder.

  Returns:
    `features.Modality` tuples, larger first, then by name (the order
    `pipelines/io/modalities.py` detects them in).
  """
  import model  # noqa: F401  pylint: disable=import-outside-toplevel,unused-import
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  sig = tf.saved_model.load(path).signatures["serving_default"]
  specs = sig.structured_input_signature[1]
  return canonical_order((name, int(spec.shape[-1])) for name, spec in specs.items())


def stack_batch(pairs):
  """[(id, {modality: vector})] -> (ids, {modality: [n, dim] float32}).

  Args:
    pairs: one fixed batch, ids ascending.

  Returns:
    (ids, {modality: stacked float32 array}).
  """
  ids = tuple(item_id for item_id, _ in pairs)
  return ids, {name: np.stack([features[name] for _, features in pairs]).astype(np.float32)
               for name in pairs[0][1]}


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
