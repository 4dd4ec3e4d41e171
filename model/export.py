"""SavedModel export (contract 8).

`serving_default` takes one float tensor per modality, named by the modality
(`[batch, dim]`), and returns `{"embedding": [batch, embedding_dim]}`,
L2-normalised (the model's output).
"""

from __future__ import annotations

import tensorflow as tf


def export_saved_model(model: tf.keras.Model, path: str) -> str:
  """Writes the SavedModel to `path` (overwritten) and returns `path`."""
  signature = model.input_signature()

  @tf.function(input_signature=[signature])
  def serve(features):
    return {"embedding": model(features, training=False)}

  module = tf.Module()
  module.model = model
  module.serve = serve
  if tf.io.gfile.exists(path):
    tf.io.gfile.rmtree(path)
  tf.saved_model.save(module, path, signatures={"serving_default": serve})
  return path


def load_embedder(path: str):
  """Returns `f(features: dict) -> embeddings` over the exported signature."""
  loaded = tf.saved_model.load(path)
  fn = loaded.signatures["serving_default"]
  return lambda features, _keep=loaded: fn(**{k: tf.convert_to_tensor(v, tf.float32)
                                for k, v in features.items()})["embedding"]
