"""The Beam transforms of `rejected` (`WriteRejected`).

Kept apart so that the in-memory engines import `rejected` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.io import rejected, sharded_io_beam


@dataclasses.dataclass
class WriteRejected(beam.PTransform):
  """Writes rejections and returns their counts as (`rejected/<reason>`, n) stats."""
  output_dir: str
  stage: str
  num_shards: int = 1

  def __post_init__(self):
    super().__init__()

  def expand(self, rejections):
    _ = (rejections
         | "AsLine" >> beam.Map(lambda r: (r.line(), r.line()))
         | "WriteRejectedShards" >> sharded_io_beam.WriteSortedShards(
             rejected.rejected_prefix(self.output_dir, self.stage), ".tsv", self.num_shards))
    return rejections | "CountByReason" >> beam.Map(lambda r: (f"rejected/{r.reason}", 1))
