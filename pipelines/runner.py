"""Pipeline options and running, shared by every pipeline's `run(argv)`.

* The DirectRunner is the default; tests pin the FnApiRunner.
* On Dataflow the workers install gcml from this checkout's `setup.py`
  (`--setup_file` is filled in unless given), and `--dry_run=True` builds and
  validates the job graph without submitting it.
* A file that cannot be read when the runner opens it is a one-line
  `InputError`. Bad records never fail a run: readers reject them
  (`rejected.py`, `tfrecord_files.py`); other errors keep their traceback.
"""

import logging
import pathlib

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions, SetupOptions, StandardOptions

from pipelines.errors import InputError

SETUP_PY = pathlib.Path(__file__).resolve().parents[1] / "setup.py"


def pipeline_options(pipeline_args: list[str]) -> PipelineOptions:
  """Builds PipelineOptions from the arguments the pipeline itself did not take."""
  options = PipelineOptions(pipeline_args)
  standard = options.view_as(StandardOptions)
  if not standard.runner:
    standard.runner = "DirectRunner"
  if "Dataflow" in str(standard.runner):
    setup = options.view_as(SetupOptions)
    if not setup.setup_file and not options.view_as(
        beam.options.pipeline_options.WorkerOptions).sdk_container_image and SETUP_PY.exists():
      setup.setup_file = str(SETUP_PY)
  return options


def is_dry_run(options: PipelineOptions) -> bool:
  return bool(options.get_all_options().get("dry_run"))


def run(pipeline: beam.Pipeline, what: str):
  """Runs `pipeline` to completion; user-data failures become InputError."""
  try:
    result = pipeline.run()
    result.wait_until_finish()
  except (OSError, UnicodeDecodeError) as e:
    raise InputError(f"{what}: {e.__class__.__name__}: {e}") from None
  logging.info("%s: pipeline finished with state %s", what, getattr(result, "state", "?"))
  return result
