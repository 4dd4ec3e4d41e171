"""The Beam transforms of `reader`.

Kept apart so that the in-memory engines import `reader` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines.io.cluster_tables import reader
from pipelines.io.rejected import Rejection


class _ParseAssignments(beam.DoFn):

  def __init__(self, levels: int, stage: str):
    self._levels = levels
    self._stage = stage

  def process(self, raw: bytes):
    try:
      line = raw.decode("utf-8")
    except UnicodeDecodeError:
      yield beam.pvalue.TaggedOutput("rejected", Rejection(
          self._stage, reader.NOT_UTF8, raw.decode("utf-8", errors="replace")))
      return
    result = reader.parse_assignment(line, self._levels)
    if isinstance(result, reader.Assignment):
      yield result
    elif result is not None:
      yield beam.pvalue.TaggedOutput("rejected", Rejection(self._stage, result, line))


class ReadAssignmentsResult(NamedTuple):
  assignments: beam.PCollection  # Assignment (ids may repeat; resolved later)
  rejected: beam.PCollection  # Rejection


@dataclasses.dataclass
class ReadAssignments(beam.PTransform):
  """Reads `assignments-*.tsv` rows.

  Attributes:
    paths: the assignment shards (see `assignment_files`).
    levels: number of level columns (see `num_levels`).
    stage: stage name written in rejection records.
  """
  paths: list[str]
  levels: int
  stage: str = "examples"

  def __post_init__(self):
    super().__init__()

  def expand(self, pbegin):
    parsed = (pbegin
              | "ListFiles" >> beam.Create(self.paths)
              | "ReadLines" >> beam.io.ReadAllFromText(coder=beam.coders.BytesCoder())
              | "Parse" >> beam.ParDo(_ParseAssignments(self.levels, self.stage)).with_outputs(
                  "rejected", main="assignments"))
    return ReadAssignmentsResult(parsed.assignments, parsed.rejected)
