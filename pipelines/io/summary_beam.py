"""The Beam transforms of `summary`.

Kept apart so that the in-memory engines import `summary` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
import json

import apache_beam as beam

from pipelines.io import sharded_io_beam, summary


@dataclasses.dataclass
class WriteStats(beam.PTransform):
  """Sums (name, count) pairs and writes them as one JSON object."""
  output_dir: str
  stage: str

  def __post_init__(self):
    super().__init__()

  def expand(self, stats):
    return (stats
            | "SumByName" >> beam.CombinePerKey(sum)
            | "AsLine" >> beam.MapTuple(lambda k, v: (k, json.dumps([k, int(v)])))
            | "WriteStatsFile" >> sharded_io_beam.WriteSortedShards(
                summary.stats_prefix(self.output_dir, self.stage), ".jsonl", num_shards=1))
