"""SavedModel export (contract 8).

`serving_default` takes one float tensor per modality, named by the modality
(`[batch, dim]`), and returns `{"embedding": [batch, embedding_dim]}`,
L2-normalised (the model's output). A temporal model's (`--mode=
temporal_contrastive`) takes `[batch, frames, dim]` per modality and a bool
`frame_mask` `[batch, frames]` (`TemporalEmbeddingModel.input_signature`).
"""

from __future__ import annotations

import os

import tensorflow as tf

from model.checkpoints import atomic_export


def export_saved_model(model: tf.keras.Model, path: str) -> str:
  """Writes the SavedModel to `path` and returns `path`.

  The model is saved to a temporary sibling directory and swapped in
  (`model/checkpoints.atomic_export`), so an interrupted export leaves any
  previous SavedModel at `path` intact.
  """
  signature = model.input_signature()

  @tf.function(input_signature=[signature])
  def serve(features):
    return {"embedding": model(features, training=False)}

  module = tf.Module()
  module.model = model
  module.serve = serve
  return atomic_export(
      lambda tmp: tf.saved_model.save(module, tmp, signatures={"serving_default": serve}), path)


def export_trained(model: tf.keras.Model, model_dir: str, chief: bool) -> str:
  """Exports a training run's model to `model_dir/export`.

  Args:
    model: the trained model.
    model_dir: the run's `--model_dir`.
    chief: False on a multi-worker worker that is not the chief: every worker
      must save (collectives), only the chief's export is kept.

  Returns:
    The export path.
  """
  path = os.path.join(model_dir, "export")
  if not chief:
    path = os.path.join(model_dir, f"export_tmp_{os.getpid()}")
  export_saved_model(model, path)
  if not chief:
    tf.io.gfile.rmtree(path)
  return path


def load_embedder(path: str):
  """Returns `f(features: dict) -> embeddings` over the exported signature
  (inputs cast to the signature's dtypes: float features, a temporal model's
  bool `frame_mask`)."""
  loaded = tf.saved_model.load(path)
  fn = loaded.signatures["serving_default"]
  dtypes = {k: spec.dtype for k, spec in fn.structured_input_signature[1].items()}
  return lambda features, _keep=loaded: fn(**{
      k: tf.cast(tf.convert_to_tensor(v), dtypes.get(k, tf.float32))
      for k, v in features.items()})["embedding"]
