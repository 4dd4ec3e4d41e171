"""The Beam transforms of `frame_validation` (`ReadFrameFeatures`).

Kept apart so that the in-memory engines import `frame_validation` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.io import frame_features as ff
from pipelines.io import frame_validation, record_checks_beam


@dataclasses.dataclass
class ReadFrameFeatures(beam.PTransform):
  """Reads and validates frame-level records on Beam; one `FrameItem` per id
  (`.items`, `.rejected`, `.stats`).

  Attributes:
    paths: TFRecord files (see `inputs.check_files`).
    modalities: the feature lists every record must have, with their sizes.
    stage: stage name written in rejection records.
    max_abs_feature: largest magnitude a dequantised value may have.
  """
  paths: list
  modalities: tuple = ff.DEFAULT_FRAME_MODALITIES
  stage: str = "validate"
  max_abs_feature: float = frame_validation.DEFAULT_MAX_ABS_FEATURE

  def __post_init__(self):
    super().__init__()

  def expand(self, pbegin):
    return pbegin | "ReadCheckedFrames" >> record_checks_beam.ReadCheckedRecords(
        self.paths, frame_validation.frame_checks(self.modalities, self.max_abs_feature),
        self.stage, "gcml_frames")
