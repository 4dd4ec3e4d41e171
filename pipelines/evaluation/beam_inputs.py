"""The Beam engine's inputs: test items' embeddings and baseline vectors, and test edges.

The same rules as the in-memory readers (`readers.py`): only test items
(`pipelines/split.is_test`) are kept; an embedding record that does not
parse, embeddings of two sizes and an id found twice are errors (returned
as one-line `problems`, raised by the driver after the run); an embedding
with a NaN or inf is left out and counted (`embedding_not_finite`); the
baseline is the concatenation of the L2-normalised modalities of each valid
feature record (`readers.baseline_vector`); edges go through the same
validation as every other stage (`edges_beam.ReadEdges`).

Every output is a PCollection; `problems` holds error lines, `counts`
(name, n) pairs.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import apache_beam as beam
import numpy as np

from pipelines.io import edges_beam as edges_lib
from pipelines.io import features_beam
from pipelines import split
from pipelines.io import tf_example, tfrecord_files
from pipelines.evaluation import readers
from pipelines.io.rejected import Rejection

STAGE = "evaluate"


class TestItem:
  """Picklable `split.is_test` with a fixed test fraction."""

  def __init__(self, test_fraction: float):
    self._fraction = test_fraction

  def __call__(self, item_id: str) -> bool:
    return split.is_test(item_id, self._fraction)


class _ParseEmbeddings(beam.DoFn):
  """path -> (id, (path, vector)) of kept ids; sizes and problems on side outputs."""

  def __init__(self, keep):
    self._keep = keep

  def process(self, path: str):
    for data in tfrecord_files.records_or_rejections(path, STAGE):
      if isinstance(data, Rejection):
        yield beam.pvalue.TaggedOutput("problems", f"--embeddings: {path}: corrupt TFRecord "
                                       f"({data.reason})")
        return
      try:
        rec = tf_example.parse(data)
        item_id = rec["id"][0].decode("utf-8")
        vec = np.asarray(rec["embedding"], np.float32)
      except (ValueError, KeyError, IndexError, UnicodeDecodeError, TypeError) as e:
        yield beam.pvalue.TaggedOutput(
            "problems", f"--embeddings: {path}: not an embedding record ({e})")
        return
      yield beam.pvalue.TaggedOutput("sizes", (vec.size, path))
      if self._keep(item_id):
        yield item_id, (path, vec)


def _one_per_id(kv):
  """(id, [(path, vector)]) -> (id, vector), or a problem for an id found twice."""
  item_id, found = kv
  found = sorted(found, key=lambda pv: pv[0])
  if len(found) > 1:
    a, b = found[0][0], found[1][0]
    where = f"twice in {a}" if a == b else f"in {a} and in {b}"
    yield beam.pvalue.TaggedOutput(
        "problems", f"--embeddings: id {item_id!r} appears {where}; each id must appear once "
        "(two exports mixed in one glob?)")
  elif not np.all(np.isfinite(found[0][1])):
    yield beam.pvalue.TaggedOutput("counts", ("embeddings/embedding_not_finite", 1))
  else:
    yield item_id, found[0][1]


def _size_problems(first_path_by_size):
  """[(size, first path)] -> a problem when there are two sizes (or an empty one)."""
  sizes = sorted(first_path_by_size)
  if len(sizes) > 1:
    (a, pa), (b, pb) = sizes[:2]
    yield (f"--embeddings: embeddings of {a} values in {pa} and of {b} values in {pb}; "
           "one model's embeddings have one size")
  elif sizes and sizes[0][0] == 0:
    yield f"--embeddings: embeddings of 0 values in {sizes[0][1]}"


class Inputs(NamedTuple):
  embeddings: beam.PCollection  # (id, float32 vector), test items, finite
  baseline: beam.PCollection  # (id, float32 vector), test items with valid features
  test_edges: beam.PCollection  # (a, b), a < b, both test items
  problems: beam.PCollection  # one-line error texts
  counts: beam.PCollection  # (name, n)


@dataclasses.dataclass
class ReadInputs(beam.PTransform):
  """Reads the evaluation's three inputs, keeping test items only.

  Attributes:
    embedding_paths: embedding TFRecord files (contract 7).
    edge_paths: edge files (contract 1).
    edge_format: csv, tsv or tfrecord.
    feature_paths: feature TFRecord files (contract 2).
    modalities: the feature modalities of the baseline.
    test_fraction: the cold-start split's test fraction.
  """
  embedding_paths: list
  edge_paths: list
  edge_format: str
  feature_paths: list
  modalities: tuple
  test_fraction: float

  def __post_init__(self):
    super().__init__()

  def expand(self, pbegin):
    keep = TestItem(self.test_fraction)
    parsed = (pbegin
              | "ListEmbeddingFiles" >> beam.Create(self.embedding_paths)
              | "SpreadEmbeddingFiles" >> beam.Reshuffle()
              | "ParseEmbeddings" >> beam.ParDo(_ParseEmbeddings(keep)).with_outputs(
                  "problems", "sizes", main="kept"))
    unique = (parsed.kept
              | "GroupEmbeddingsById" >> beam.GroupByKey()
              | "OneEmbeddingPerId" >> beam.FlatMap(_one_per_id).with_outputs(
                  "problems", "counts", main="embeddings"))
    size_problems = (parsed.sizes
                     | "FirstPathPerSize" >> beam.CombinePerKey(min)
                     | "AllSizes" >> beam.combiners.ToList()
                     | "SizeProblems" >> beam.FlatMap(_size_problems))
    modalities = tuple(self.modalities)
    features = pbegin | "ReadFeatures" >> features_beam.ReadFeatures(self.feature_paths,
                                                                     modalities, STAGE)
    baseline = (features.items
                | "TestFeatures" >> beam.Filter(lambda item: keep(item.id))
                | "BaselineVectors" >> beam.Map(
                    lambda item: (item.id, readers.baseline_vector(item, modalities))))
    edges = pbegin | "ReadEdges" >> edges_lib.ReadEdges(self.edge_paths, self.edge_format,
                                                        "max", STAGE)
    test_edges = (edges.edges
                  | "TestEdges" >> beam.Filter(lambda e: keep(e.src) and keep(e.dst))
                  | "EdgePairs" >> beam.Map(lambda e: (e.src, e.dst)))
    rejected = edges.rejected | "EdgeRejectionReasons" >> beam.Map(
        lambda r: (f"edges_rejected/{r.reason}", 1))
    problems = ((parsed.problems, unique.problems, size_problems)
                | "AllProblems" >> beam.Flatten())
    counts = (unique.counts, rejected) | "AllCounts" >> beam.Flatten()
    return Inputs(unique.embeddings, baseline, test_edges, problems, counts)
