"""`gcml validate`: check edges and features and say exactly what is wrong.

Reads contract 1 (edges) and contract 2 (features), writes every refused
record to `OUTPUT/rejected/validate-*.tsv` and the counts to
`OUTPUT/summary.json` (section `validate`): records read, valid, rejected by
reason, duplicate edges combined, edge endpoints with no features (kept,
counted) and the modalities: detected from the records unless `--modalities`
names them (`pipelines/io/modalities.py`). With `--frames=GLOB`, frame-level
files (docs/frames.md) are validated too, by the frame readers
(`pipelines/io/frame_validation.py`): their rejections go to the same
`rejected/` files, counted by reason, and `frames/valid_items` to the summary.
"""

import dataclasses
import json
import logging


from pipelines.io import features as features_lib
from pipelines.io import frame_features
from pipelines.io import inputs, modalities, sharded_io
from pipelines.validate import local as validate_local
from pipelines.io import stage_run
from pipelines import config_flags

STAGE = "validate"


@dataclasses.dataclass
class ValidateConfig:
  """What `gcml validate` checks (flags of the same names, `pipelines/config_flags.py`).

  Attributes:
    features: feature TFRecord glob(s).
    output_dir: where `rejected/` and `summary.json` go.
    max_abs_feature: largest magnitude of a feature value; larger ones are
      rejected as <modality>_out_of_range.
    engine: local: in memory, the same bytes (docs/engines.md).
    frames: frame-level TFRecord glob(s) to validate too (optional).
    frame_modalities: the frames' feature lists, name:dim,...; default: the
      modalities' frame-level names (`mean_rgb:1024` -> `rgb:1024`).
  """
  edges: str
  features: str
  output_dir: str
  edge_format: str = "auto"
  edge_combine: config_flags.EdgeCombine = "max"
  modalities: tuple | None = config_flags.modalities_field()  # None: detect
  max_abs_feature: float = features_lib.DEFAULT_MAX_ABS_FEATURE
  engine: config_flags.Engine = "beam"
  frames: str = ""
  frame_modalities: tuple | None = config_flags.modalities_field()  # None: from modalities


def _beam_engine():
  from pipelines.validate import stage_beam  # pylint: disable=import-outside-toplevel
  return stage_beam


def parse_args(argv) -> tuple[ValidateConfig, list]:
  """Parses `gcml validate`'s flags into its config and the Beam pipeline options.

  Args:
    argv: the command line after `gcml validate`.

  Returns:
    (the ValidateConfig, the arguments left for Beam's pipeline options).

  Raises:
    InputError: a flag that neither the stage nor Beam knows, or a bad value (one line).
  """
  return config_flags.parse_stage_config("gcml validate", __doc__, ValidateConfig, argv)


def run(argv=None) -> dict:
  """Runs `gcml validate` on its command line (`parse_args`, then `run_config`).

  Args:
    argv: the command line after `gcml validate` (None: `sys.argv[1:]`).

  Returns:
    The `validate` section of summary.json ({} on a Beam dry run).
  """
  return run_config(*parse_args(argv))


def run_config(config: ValidateConfig, pipeline_args: tuple = ()) -> dict:
  """Runs validation; returns the `validate` section of summary.json.

  Args:
    config: what to validate.
    pipeline_args: Beam pipeline options (`--runner=...`).

  Returns:
    The `validate` section of summary.json ({} on a Beam dry run).
  """
  features_lib.check_max_abs(config.max_abs_feature)
  config, edge_paths = stage_run.resolve_edges(config)
  feature_paths = inputs.check_files(config.features, "--features", tfrecord=True)
  config = dataclasses.replace(config, modalities=modalities.resolve(config.modalities,
                                                                     feature_paths))
  frame_paths = (inputs.check_files(config.frames, "--frames", tfrecord=True)
                 if config.frames else [])
  config = dataclasses.replace(config, frame_modalities=config.frame_modalities or tuple(
      features_lib.Modality(frame_features.frame_name(m.name), m.dim)
      for m in config.modalities))
  sharded_io.ensure_dir(config.output_dir)
  ran = stage_run.run_engine(
      "gcml validate", config.engine, pipeline_args,
      build=lambda pipeline: _beam_engine().build(pipeline, config, edge_paths, feature_paths,
                                                   frame_paths),
      run_local=lambda: validate_local.run_local(config, edge_paths, feature_paths, STAGE,
                                                 frame_paths))
  if ran.dry_run:
    return {}
  section = stage_run.write_section(config.output_dir, STAGE, {
      "edges_glob": config.edges, "features_glob": config.features,
      "edge_files": len(edge_paths), "feature_files": len(feature_paths),
      "modalities": features_lib.modalities_flag(config.modalities),
      **({"frames_glob": config.frames, "frame_files": len(frame_paths),
          "frame_modalities": features_lib.modalities_flag(config.frame_modalities)}
         if frame_paths else {})})
  rejected_total = sum(v for k, v in section.items() if k.startswith("rejected/"))
  logging.info("validate: %s", json.dumps(section, sort_keys=True))
  print(f"validate: {section.get('edges/unique_edges', 0)} unique edges, "
        f"{section.get('features/valid_items', 0)} items with features, "
        f"{rejected_total} records rejected; see {config.output_dir}/summary.json")
  return section
