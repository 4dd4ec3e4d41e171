"""The Beam transforms of `related_rerank` (`ExactRerank`: two joins, then `rerank`).

Kept apart so that the in-memory export imports `related_rerank` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.export.related_rerank import rerank
from pipelines.io import related_rows


def _send_to_askers(joined):
  """(candidate, {vector: [v], askers: [query ids]}) -> (query, (candidate, v)) per asker."""
  candidate, groups = joined
  vectors = list(groups["vector"])
  if not vectors:
    return
  for query in sorted(set(groups["askers"])):
    yield query, (candidate, vectors[0])


def _rerank_rows(joined, k: int):
  """(query, {vector: [v], candidates: [(id, v)]}) -> (sort_key, tsv line) rows."""
  query, groups = joined
  vectors = list(groups["vector"])
  if not vectors:
    return
  yield from related_rows.format_rows(query, rerank(vectors[0], list(groups["candidates"]), k))


@dataclasses.dataclass
class ExactRerank(beam.PTransform):
  """(query id, [candidate ids]) -> (sort_key, tsv line): the k best by exact cosine.

  Attributes:
    embeddings: the (id, embedding) PCollection the candidates come from.
    k: neighbours kept per query.
  """
  embeddings: object
  k: int

  def __post_init__(self):
    super().__init__()

  def expand(self, candidates):
    asks = candidates | "AskCandidates" >> beam.FlatMap(
        lambda kv: ((candidate, kv[0]) for candidate in kv[1]))
    fetched = ({"vector": self.embeddings, "askers": asks}
               | "JoinCandidateVectors" >> beam.CoGroupByKey()
               | "SendToQueries" >> beam.FlatMap(_send_to_askers))
    return ({"vector": self.embeddings, "candidates": fetched}
            | "JoinQueryVectors" >> beam.CoGroupByKey()
            | "Rerank" >> beam.FlatMap(_rerank_rows, self.k))
