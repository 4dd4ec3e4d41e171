"""What every stage's `run_config` does around its engine, written once.

A stage resolves its edge input once (`resolve_edges`), runs one of its two
engines (`run_engine`: Beam's pipeline options, the dry run, the output folder
made ready only when something will be written) and writes its section of
`summary.json` (`write_section`). The one-writer lock on `--output_dir` is
taken around the whole stage by `gcml` itself (`launch/main.py`,
`output_lock.held`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import typing
from collections.abc import Callable
from typing import Any, NamedTuple

if typing.TYPE_CHECKING:
  import apache_beam as beam

from pipelines import runner
from pipelines.io import edge_records
from pipelines.io import inputs, output_lock, summary


def resolve_edges(config: Any) -> tuple[Any, list[str]]:
  """Resolves a config's edge format once and checks its edge files.

  Args:
    config: a stage config (a dataclass) with `edges` and `edge_format` fields.

  Returns:
    (the config with `edge_format` csv, tsv or tfrecord, the edge file paths).

  Raises:
    InputError: no file matches `--edges`, or an unknown format.
  """
  config = dataclasses.replace(config, edge_format=edge_records.edge_format_of(
      config.edges, config.edge_format))
  return config, inputs.check_files(config.edges, "--edges", config.edge_format == "tfrecord")


class EngineRun(NamedTuple):
  """What `run_engine` did.

  Attributes:
    dry_run: a Beam `--dry_run=True` job graph was built and nothing written.
    local_result: what the in-memory engine returned (None on Beam).
  """
  dry_run: bool
  local_result: Any


def run_engine(what: str, engine: str, pipeline_args, build: Callable[[beam.Pipeline], None],
               run_local: Callable[[], Any] | None = None,
               prepare_output: Callable[[], None] | None = None) -> EngineRun:
  """Runs a stage on Beam or in memory.

  Args:
    what: the stage's command (`gcml examples`), for errors and logs.
    engine: `beam` or `local`.
    pipeline_args: Beam pipeline options (`--runner=...`).
    build: adds the stage's transforms to a Beam pipeline.
    run_local: runs the in-memory engine (for `engine="local"`).
    prepare_output: makes the output folder ready (removes stale shards);
      skipped on a Beam dry run.

  Returns:
    The `EngineRun`.
  """
  if engine == "local":  # Beam is not imported
    if prepare_output is not None:
      prepare_output()
    return EngineRun(False, run_local())
  options = runner.pipeline_options(list(pipeline_args))
  dry_run = runner.is_dry_run(options)
  if prepare_output is not None and not dry_run:
    prepare_output()
  import apache_beam as beam  # pylint: disable=import-outside-toplevel,redefined-outer-name
  with output_lock.beam_temp_folder() as folder:
    with _system_temp_folder(folder):
      pipeline = beam.Pipeline(options=options)
    # Not while building: a module imported there may keep the temp folder of the moment
    # (Beam's multi_process_shared, imported by RunInference, takes it as a default argument).
    build(pipeline)
    with _system_temp_folder(folder):
      runner.run(pipeline, what)
  return EngineRun(dry_run, None)


@contextlib.contextmanager
def _system_temp_folder(folder: str):
  """Makes `folder` the system temp folder of this process (`tempfile`) for a `with` block.

  Beam makes its temporaries there and does not always remove them: a pipeline's
  `beam-pipeline-temp*` folder (removed only at the end of `Pipeline.run`, so a
  failed build or a kill leaves it), the second pipeline of the runner-API round
  trip that `Pipeline.run` makes on Dataflow (its own `beam-pipeline-temp*`), the
  staged sdist of the Dataflow workers' dependencies (a `tmp*` folder that
  `environments.python_sdk_dependencies` never removes). Inside the run's
  recorded folder (`output_lock.beam_temp_folder`) they go when it goes. gcml
  runs one Beam pipeline at a time in a process.

  Args:
    folder: the folder.

  Returns:
    A context manager; the previous temp folder is restored when the block ends.
  """
  previous, tempfile.tempdir = tempfile.tempdir, folder
  try:
    yield
  finally:
    tempfile.tempdir = previous


def write_section(output_dir: str, stage: str, extra: dict, counts: dict | None = None) -> dict:
  """Writes a stage's section of `summary.json`.

  Args:
    output_dir: the stage's output folder.
    stage: the section's name.
    extra: settings and figures to record beside the counts.
    counts: the in-memory engine's counters; None to merge the counters the
      Beam engine (or an engine writing `.stats-*` files) left beside the outputs.

  Returns:
    The stage's section.
  """
  if counts is None:
    return summary.merge_stats_into_summary(output_dir, stage, extra)
  return summary.update_summary(output_dir, stage, {**counts, **extra})[stage]
