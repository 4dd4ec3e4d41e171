"""Annotation: the papers' model trained on train items, scored on cold-start test items."""

from __future__ import annotations

import numpy as np

from model import metrics
from pipelines import split
from pipelines.errors import InputError


def annotation_results(config, emb, raw, labels) -> dict:
  """Trains the annotation model per input on train items; metrics on test items.

  Args:
    config: the evaluation's settings (`test_fraction`, `annotation`).
    emb: {id: embedding} of all items.
    raw: {id: baseline vector} of all items.
    labels: {id: labels}.

  Returns:
    ({input name: annotation metrics}, {train_items, test_items, classes}).

  Raises:
    InputError: no labelled train or test item with both vectors.
  """
  from model import annotation  # pylint: disable=import-outside-toplevel
  usable = sorted(set(emb) & set(raw) & set(labels))
  train = [i for i in usable if not split.is_test(i, config.test_fraction)]
  test = [i for i in usable if split.is_test(i, config.test_fraction)]
  if not train or not test:
    raise InputError("--labels_from: annotation needs labelled train and test items with "
                     f"embeddings and features (got {len(train)} train, {len(test)} test)")
  vocab = sorted({c for i in usable for c in labels[i]})
  dense = {c: j for j, c in enumerate(vocab)}

  def y(ids):
    return annotation.multi_hot([[dense[c] for c in labels[i]] for i in ids], len(vocab))

  inputs_ = {
      "embeddings": lambda i: emb[i],
      "raw_features": lambda i: raw[i],
      "embeddings+raw_features": lambda i: np.concatenate([emb[i], raw[i]]),
  }
  out = {}
  for name, fn in inputs_.items():
    probs = annotation.train_and_predict(np.stack([fn(i) for i in train]), y(train),
                                         np.stack([fn(i) for i in test]),
                                         config.annotation_config())
    out[name] = metrics.annotation_metrics(probs, y(test))
  return out, {"train_items": len(train), "test_items": len(test), "classes": len(vocab)}

