"""Placeholder."""
import dataclasses
import apache_beam as beam


@dataclasses.dataclass
class SimilarityWeights(beam.PTransform):
  similarity: str
  partitions: int

  def __post_init__(self):
    super().__init__()

  def expand(self, edges):
    raise NotImplementedError
