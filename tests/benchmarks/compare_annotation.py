"""Annotation scores in `gcml bench compare` (`--annotation_steps=N`).

The papers' second task: the annotation model (`model/annotation.py`, a
hidden layer and a mixture of experts) is trained on the train items'
vectors and their labels, and scored on the cold-start test items (GAP@20,
MAP, Hit@1, Hit@5), exactly as `gcml evaluate --labels_from` scores one
embedding run (`pipelines/evaluation/annotation.py`). Here every method's
embeddings and the raw features are scored the same way on the same world,
with a small classifier so that a comparison fits on one machine.
"""

from __future__ import annotations

import glob

import numpy as np


def all_items(world: str, modalities) -> tuple[dict, dict]:
  """Every valid item's per-modality features, and the labels of the labelled ones.

  Args:
    world: a `gcml synth` folder (features-*.tfrecord).
    modalities: [(name, dim)].

  Returns:
    ({id: {modality: vector}}, {id: labels tuple}).
  """
  from pipelines.io import features as features_lib  # pylint: disable=import-outside-toplevel
  from pipelines.io import inputs  # pylint: disable=import-outside-toplevel
  mods = tuple(features_lib.Modality(n, d) for n, d in modalities)
  items, labels = {}, {}
  for data in inputs.tfrecords(sorted(glob.glob(f"{world}/features-*.tfrecord"))):
    item = features_lib.parse_item(data, mods)
    if isinstance(item, features_lib.Item):
      items[item.id] = item.features
      if item.labels:
        labels[item.id] = tuple(item.labels)
  return items, labels


def annotation_scores(vectors: dict, labels: dict, steps: int, seed: int) -> dict:
  """The annotation metrics of one set of vectors on the test items.

  Args:
    vectors: {id: vector} for (at least) the labelled items.
    labels: {id: labels}.
    steps: the classifier's training steps.
    seed: the classifier's seed.

  Returns:
    {"gap@20", "map", "hit@1", "hit@5"} on the labelled test items.
  """
  from model import annotation, metrics  # pylint: disable=import-outside-toplevel
  from pipelines import split  # pylint: disable=import-outside-toplevel
  usable = sorted(set(vectors) & set(labels))
  train = [i for i in usable if not split.is_test(i)]
  test = [i for i in usable if split.is_test(i)]
  vocab = {c: j for j, c in enumerate(sorted({c for i in usable for c in labels[i]}))}

  def y(ids):
    return annotation.multi_hot([[vocab[c] for c in labels[i]] for i in ids], len(vocab))

  config = annotation.AnnotationConfig(hidden_units=256, num_experts=2, batch_size=256,
                                       train_steps=steps, seed=seed)
  probs = annotation.train_and_predict(np.stack([vectors[i] for i in train]), y(train),
                                       np.stack([vectors[i] for i in test]), config)
  return {k: round(float(v), 4) for k, v in metrics.annotation_metrics(probs, y(test)).items()}
