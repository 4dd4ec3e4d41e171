"""The Beam transforms of `tfrecord_files`.

Kept apart so that the in-memory engines import `tfrecord_files` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines.io import tfrecord_files


class _ReadFile(beam.DoFn):
  """path -> its records; corrupt frames go to the `rejected` output."""

  def __init__(self, stage: str):
    self._stage = stage
    self._records = beam.metrics.Metrics.counter("tfrecord_files", "records_read")
    self._corrupt = beam.metrics.Metrics.counter("tfrecord_files", "corrupt_frames")

  def process(self, path: str):
    for record in tfrecord_files.records_or_rejections(path, self._stage):
      if isinstance(record, tfrecord_files.Rejection):
        self._corrupt.inc()
        yield beam.pvalue.TaggedOutput("rejected", record)
      else:
        self._records.inc()
        yield record


class TFRecordFilesResult(NamedTuple):
  records: beam.PCollection  # bytes
  rejected: beam.PCollection  # tfrecord_files.Rejection


@dataclasses.dataclass
class ReadTFRecordFiles(beam.PTransform):
  """A PCollection of TFRecord paths -> their records and corrupt-frame rejections.

  Attributes:
    stage: stage name written in rejection records.
  """
  stage: str

  def __post_init__(self):
    super().__init__()

  def expand(self, paths):
    read = (paths
            | "SpreadFiles" >> beam.Reshuffle()
            | "ReadFrames" >> beam.ParDo(_ReadFile(self.stage)).with_outputs(
                "rejected", main="records"))
    return TFRecordFilesResult(read.records, read.rejected)
