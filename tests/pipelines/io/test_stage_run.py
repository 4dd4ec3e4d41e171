"""pipelines/io/stage_run.py: edge inputs resolved once, the engine run, the summary section."""

import json
import os
import signal
import subprocess
import sys
import tempfile

import apache_beam as beam
import pytest

from pipelines.errors import InputError
from pipelines.io import output_lock, stage_run, summary_beam
from pipelines.validate.stage import ValidateConfig

DATAFLOW_DRY_RUN = ["--runner=DataflowRunner", "--dry_run=True", "--project=gcml-test",
                    "--region=us-central1", "--temp_location=gs://gcml-test/tmp",
                    "--sdk_location=container"]


def test_resolve_edges_names_the_format_from_the_glob(tmp_path):
  (tmp_path / "edges-0.tsv").write_text("a\tb\t1\n")
  (tmp_path / "edges-1.tsv").write_text("b\tc\t1\n")
  config = ValidateConfig(edges=f"{tmp_path}/edges-*.tsv", features="f", output_dir="o")
  resolved, paths = stage_run.resolve_edges(config)
  assert resolved.edge_format == "tsv" and config.edge_format == "auto"
  assert paths == [f"{tmp_path}/edges-0.tsv", f"{tmp_path}/edges-1.tsv"]


def test_resolve_edges_without_a_file_is_one_line(tmp_path):
  config = ValidateConfig(edges=f"{tmp_path}/none.csv", features="f", output_dir="o")
  with pytest.raises(InputError, match=f"--edges: no such file: {tmp_path}/none.csv"):
    stage_run.resolve_edges(config)


def test_local_engine_prepares_then_runs_in_memory():
  calls = []
  ran = stage_run.run_engine("gcml test", "local", [], build=calls.append,
                             run_local=lambda: calls.append("local") or {"items": 3},
                             prepare_output=lambda: calls.append("prepare"))
  assert ran == stage_run.EngineRun(False, {"items": 3})
  assert calls == ["prepare", "local"]


def test_beam_engine_runs_the_built_pipeline(tmp_path):
  calls = []

  def build(pipeline):
    _ = (pipeline | beam.Create([("edges", 2), ("edges", 5)])
         | summary_beam.WriteStats(str(tmp_path), "test"))

  ran = stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"], build=build,
                             prepare_output=lambda: calls.append("prepare"))
  assert ran == stage_run.EngineRun(False, None) and calls == ["prepare"]
  assert stage_run.write_section(str(tmp_path), "test", {"engine": "beam"}) == {
      "edges": 7, "engine": "beam"}


def test_beam_dry_run_builds_the_graph_and_leaves_the_output_alone():
  calls = []
  ran = stage_run.run_engine(
      "gcml test", "beam", DATAFLOW_DRY_RUN,
      build=lambda pipeline: calls.append("build") or (pipeline | beam.Create([1])),
      prepare_output=lambda: calls.append("prepare"))
  assert ran.dry_run and calls == ["build"]


def test_beam_runs_leave_nothing_in_the_temp_folder_built_failed_or_on_dataflow(
    tmp_path, monkeypatch):
  # Beam's temp folders: each pipeline's `beam-pipeline-temp*` (removed only in
  # `Pipeline.run`: a build that raises never gets there), on Dataflow the second pipeline of
  # the runner-API round trip and the staged sdist's `tmp*` folder (never removed by Beam).
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
  stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"],
                       build=lambda pipeline: pipeline | beam.Create([1]))
  assert not os.listdir(tmp_path)

  def build(pipeline):
    _ = pipeline | beam.Create([1])
    raise InputError("gcml test: a problem found while building the job graph")

  with pytest.raises(InputError, match="while building the job graph"):
    stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"], build=build)
  assert not os.listdir(tmp_path)
  assert stage_run.run_engine("gcml test", "beam", DATAFLOW_DRY_RUN,
                              build=lambda pipeline: pipeline | beam.Create([1])).dry_run
  assert not os.listdir(tmp_path) and tempfile.gettempdir() == str(tmp_path)


def _recorded(out) -> list:
  with open(out / "_LOCK", encoding="utf-8") as f:
    return json.load(f).get("beam_temp_dirs", [])


def test_the_lock_records_the_beam_temp_folder_while_the_pipeline_exists(tmp_path):
  seen = []

  def build(pipeline):
    seen.append((pipeline.local_tempdir, _recorded(tmp_path / "out"), tempfile.gettempdir()))
    _ = pipeline | beam.Create([1])

  with output_lock.held(str(tmp_path / "out"), "gcml test"):
    stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"], build=build)
    assert _recorded(tmp_path / "out") == []  # dropped once the folder is removed
  [(pipeline_folder, [folder], temp_while_building)] = seen
  assert os.path.dirname(pipeline_folder) == folder and not os.path.exists(folder)
  assert os.path.basename(folder).startswith(output_lock.BEAM_TEMP_PREFIX)
  assert temp_while_building == tempfile.gettempdir() != folder


# A stage that holds its output's lock and is SIGKILLed right after Beam has made its
# N-th temp folder named NAME*: the run is stopped there (it prints the folder and sleeps).
KILLED_STAGE = """
import sys, tempfile, time
from pipelines.io import output_lock, stage_run
out, name, nth, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
made, mkdtemp = [], tempfile.mkdtemp

def stop_at_the_nth(suffix=None, prefix=None, dir=None):
  folder = mkdtemp(suffix, prefix, dir)
  if (prefix or "tmp") == name:
    made.append(folder)
    if len(made) == nth:
      print(folder, flush=True)
      time.sleep(300)
  return folder

tempfile.mkdtemp = stop_at_the_nth
output_lock.acquire(out, "gcml test")
import apache_beam as beam
stage_run.run_engine("gcml test", "beam", args, build=lambda pipeline: pipeline | beam.Create([1]))
"""


@pytest.mark.parametrize("args,nth", [
    # Right after `beam.Pipeline` made its folder: before the run's folder was recorded,
    # this kill left an unrecorded `beam-pipeline-temp*`.
    (["--runner=DirectRunner"], 1),
    # Inside `Pipeline.run` on Dataflow: the runner-API round trip's second pipeline.
    (DATAFLOW_DRY_RUN, 2),
], ids=["direct-pipeline-made", "dataflow-round-trip"])
def test_a_rerun_deletes_the_beam_temp_folders_of_a_run_killed_as_beam_made_one(
    tmp_path, monkeypatch, args, nth):
  root, out = tmp_path / "tmp", tmp_path / "out"
  root.mkdir()
  (root / "users-folder").mkdir()
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
  child = subprocess.Popen(
      [sys.executable, "-c", KILLED_STAGE, str(out), "beam-pipeline-temp", str(nth), *args],
      cwd=repo, env={**os.environ, "PYTHONPATH": repo, "TMPDIR": str(root)},
      stdout=subprocess.PIPE, text=True)
  beam_folder = child.stdout.readline().strip()
  child.send_signal(signal.SIGKILL)
  child.communicate()
  [folder] = _recorded(out)
  assert os.path.dirname(beam_folder) == folder and os.path.dirname(folder) == str(root)
  assert len(os.listdir(folder)) == nth  # the round trip's pipeline beside the first one
  monkeypatch.setattr(tempfile, "tempdir", str(root))
  with output_lock.held(str(out), "gcml test"):  # takes over the dead run's lock
    assert os.listdir(root) == ["users-folder"]


def test_write_section_records_the_in_memory_counts_beside_the_settings(tmp_path):
  section = stage_run.write_section(str(tmp_path), "test", {"engine": "local"}, {"edges": 4})
  assert section == {"edges": 4, "engine": "local"}
  with open(tmp_path / "summary.json", encoding="utf-8") as f:
    assert json.load(f) == {"test": {"edges": 4, "engine": "local"}}
