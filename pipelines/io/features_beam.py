"""The Beam transforms of `features` (`ReadFeatures`).

Kept apart so that the in-memory engines import `features` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses

import apache_beam as beam

from pipelines.io import features, record_checks_beam


@dataclasses.dataclass
class ReadFeatures(beam.PTransform):
  """Reads and validates feature records; one `Item` per id (`features.record_checks`:
  `.items`, `.rejected`, `.stats`).

  Attributes:
    paths: TFRecord files (see `inputs.check_files`).
    modalities: the float features every record must have, with their sizes.
    stage: stage name written in rejection records.
    id_key: name of the id feature.
    labels_key: name of the optional int64 labels feature.
    max_abs_feature: largest magnitude a feature value may have.
  """
  paths: list[str]
  modalities: tuple = features.DEFAULT_MODALITIES
  stage: str = "validate"
  id_key: str = "id"
  labels_key: str = "labels"
  max_abs_feature: float = features.DEFAULT_MAX_ABS_FEATURE

  def __post_init__(self):
    super().__init__()

  def expand(self, pbegin):
    return pbegin | "ReadCheckedFeatures" >> record_checks_beam.ReadCheckedRecords(
        self.paths, features.feature_checks(self.modalities, self.id_key, self.labels_key,
                                   self.max_abs_feature), self.stage, "gcml_features")
