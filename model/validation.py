"""Retrieval on the validation items, scored inside the training job.

`gcml examples --kind=validation` writes the validation set
(`pipelines/examples/validation_set.py`): the held-out validation items with
their features (`items-*.tfrecord`) and the edges between them
(`edges-*.tsv`). `ValidationSet` reads it once and scores a model on it
exactly as `gcml evaluate` scores the test items: the queries are the items
with a related item, the database the union of their related items, cosine
ranking, MAP@60 and NDCG@60 (`model/metrics.py`). It also scores the raw
features once (the baseline a model must beat), so the trainer can log both.
`load` keeps the last set read, so the runs of one process (the demo's four
models) read and score the raw features once.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from model import metrics
from model.errors import ConfigError
from model.input_files import check_shard_sets


_LOADED: dict = {}  # the last set `load` read: {key: ValidationSet}


def load(directory: str, modalities, k: int = 60) -> "ValidationSet":
  """The `ValidationSet` of `directory`, read once per process while its files are unchanged.

  The runs of one process (the demo trains four models on one validation set)
  share it and its raw-feature scores; a changed, added or removed file
  (name, size or modification time) reads the set again.

  Args:
    directory: the `gcml examples --kind=validation` output.
    modalities: (name, dim) pairs of the model's inputs.
    k: the cut-off of MAP@k and NDCG@k.

  Returns:
    The validation set (see `ValidationSet`, whose errors it raises).
  """
  files = sorted(tf.io.gfile.glob(os.path.join(directory, "items-*.tfrecord")) +
                 tf.io.gfile.glob(os.path.join(directory, "edges-*.tsv")))
  stats = [tf.io.gfile.stat(path) for path in files]
  key = (directory, tuple(tuple(m) for m in modalities), k,
         tuple((path, st.length, st.mtime_nsec) for path, st in zip(files, stats)))
  if key not in _LOADED:
    loaded = ValidationSet(directory, modalities, k)
    _LOADED.clear()
    _LOADED[key] = loaded
  return _LOADED[key]


class ValidationSet:
  """The validation items' features and relevance, in memory (validation is small)."""

  def __init__(self, directory: str, modalities, k: int = 60):
    """Reads the validation set.

    Args:
      directory: the `gcml examples --kind=validation` output.
      modalities: (name, dim) pairs of the model's inputs.
      k: the cut-off of MAP@k and NDCG@k.

    Raises:
      ConfigError: the folder holds no validation set, or no validation item
        has a related validation item.
    """
    self.k = k
    self.modalities = tuple(modalities)
    items = sorted(tf.io.gfile.glob(os.path.join(directory, "items-*.tfrecord")))
    edge_files = sorted(tf.io.gfile.glob(os.path.join(directory, "edges-*.tsv")))
    if not items or not edge_files:
      raise ConfigError(f"--validation_data={directory}: no items-*.tfrecord and edges-*.tsv "
                        "(write them with gcml examples --kind=validation)")
    check_shard_sets(items, "--validation_data")
    check_shard_sets(edge_files, "--validation_data")
    spec = {"id": tf.io.FixedLenFeature([], tf.string)}
    spec.update({name: tf.io.FixedLenFeature([dim], tf.float32) for name, dim in self.modalities})
    features = {name: [] for name, _ in self.modalities}
    ids = []
    try:
      for batch in tf.data.TFRecordDataset(items).batch(4096):
        parsed = tf.io.parse_example(batch, spec)
        ids += [i.decode("utf-8") for i in parsed["id"].numpy()]
        for name in features:
          features[name].append(parsed[name].numpy())
    except tf.errors.InvalidArgumentError as e:
      raise ConfigError(f"--validation_data={directory}: items do not carry the model's "
                        f"features {list(features)} ({e.message.splitlines()[0]})") from None
    edges = []
    for path in edge_files:
      with tf.io.gfile.GFile(path) as f:
        edges += [tuple(line.split("\t")) for line in f.read().splitlines()[1:] if line]
    position = {item_id: i for i, item_id in enumerate(ids)}
    queries, database, self.relevance, self.exclude = metrics.retrieval_sets(
        edges, set(position))
    if not queries:
      raise ConfigError(f"--validation_data={directory}: no validation item has a related "
                        "validation item; raise --validation_fraction")
    self.query_rows = np.array([position[q] for q in queries])
    self.database_rows = np.array([position[d] for d in database])
    self.features = {name: np.concatenate(parts) for name, parts in features.items()}
    self.num_items = len(ids)
    self._raw = None

  def _score(self, vectors: np.ndarray) -> dict:
    return metrics.retrieval_metrics(vectors[self.query_rows], vectors[self.database_rows],
                                     self.relevance, self.exclude, ndcg_k=self.k,
                                     map_k=self.k)

  def raw_scores(self) -> dict:
    """The raw-feature baseline: each modality L2-normalised, concatenated (scored once)."""
    if self._raw is None:
      self._raw = self._score(np.concatenate([metrics.normalize_rows(self.features[name])
                                              for name, _ in self.modalities], axis=1))
    return dict(self._raw)

  def score(self, model, batch_size: int = 2048) -> dict:
    """MAP@k, NDCG@k (and the whole-list MAP) of the model's embeddings.

    Args:
      model: a Keras model (called with training=False) or any callable from
        a feature dict to embeddings (e.g. `export.load_embedder`).
      batch_size: items embedded per call.
    """
    keras = isinstance(model, tf.keras.Model)
    parts = []
    for start in range(0, self.num_items, batch_size):
      batch = {name: values[start:start + batch_size] for name, values in self.features.items()}
      parts.append(np.asarray(model(batch, training=False) if keras else model(batch)))
    vectors = np.concatenate(parts)
    if not np.all(np.isfinite(vectors)):
      raise ConfigError("validation: the model's embeddings are not finite")
    return self._score(vectors)
