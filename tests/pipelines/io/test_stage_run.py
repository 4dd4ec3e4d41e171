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


def test_beam_runs_leave_no_beam_temp_folder_even_when_the_graph_fails_to_build(
    tmp_path, monkeypatch):
  # Beam makes `beam-pipeline-temp*` in the system temp folder for each pipeline and removes
  # it only in `Pipeline.run`; a build that raises must not leave it behind.
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
  stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"],
                       build=lambda pipeline: pipeline | beam.Create([1]))
  assert not list(tmp_path.glob("beam-pipeline-temp*"))

  def build(pipeline):
    _ = pipeline | beam.Create([1])
    raise InputError("gcml test: a problem found while building the job graph")

  with pytest.raises(InputError, match="while building the job graph"):
    stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"], build=build)
  assert not list(tmp_path.glob("beam-pipeline-temp*"))


def _recorded(out) -> list:
  with open(out / "_LOCK", encoding="utf-8") as f:
    return json.load(f).get("beam_temp_dirs", [])


def test_the_lock_records_the_beam_temp_folder_while_the_pipeline_exists(tmp_path):
  seen = []

  def build(pipeline):
    seen.append((pipeline.local_tempdir, _recorded(tmp_path / "out")))
    _ = pipeline | beam.Create([1])

  with output_lock.held(str(tmp_path / "out"), "gcml test"):
    stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"], build=build)
    assert _recorded(tmp_path / "out") == []  # dropped once Beam has removed it
  [(folder, recorded)] = seen
  assert recorded == [folder] and os.path.basename(folder).startswith("beam-pipeline-temp")


# A stage that holds its output's lock and is SIGKILLed while its Beam pipeline exists.
KILLED_STAGE = """
import sys, time
from pipelines.io import output_lock, stage_run
output_lock.acquire(sys.argv[1], "gcml test")
def build(pipeline):
  print(pipeline.local_tempdir, flush=True)
  time.sleep(300)
stage_run.run_engine("gcml test", "beam", ["--runner=DirectRunner"], build=build)
"""


def test_a_rerun_deletes_the_beam_temp_folder_of_a_killed_run_and_nothing_else(
    tmp_path, monkeypatch):
  root, out = tmp_path / "tmp", tmp_path / "out"
  root.mkdir()
  repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
  child = subprocess.Popen([sys.executable, "-c", KILLED_STAGE, str(out)], cwd=repo,
                           env={**os.environ, "PYTHONPATH": repo, "TMPDIR": str(root)},
                           stdout=subprocess.PIPE, text=True)
  folder = child.stdout.readline().strip()
  child.send_signal(signal.SIGKILL)
  child.communicate()
  assert os.path.dirname(folder) == str(root) and os.path.isdir(folder)
  assert _recorded(out) == [folder]
  # Recorded paths that are not a Beam temp folder right under the temp root stay.
  (root / "beam-pipeline-tempfile").write_text("a file")
  (tmp_path / "elsewhere" / "beam-pipeline-tempx").mkdir(parents=True)
  (root / "users-folder").mkdir()
  (root / "beam-pipeline-temp-unrecorded").mkdir()
  with open(out / "_LOCK", encoding="utf-8") as f:
    lock = json.load(f)
  lock["beam_temp_dirs"] += [str(root / "beam-pipeline-tempfile"), str(root / "users-folder"),
                             str(tmp_path / "elsewhere" / "beam-pipeline-tempx"), "relative"]
  (out / "_LOCK").write_text(json.dumps(lock))
  monkeypatch.setattr(tempfile, "tempdir", str(root))
  with output_lock.held(str(out), "gcml test"):  # takes over the dead run's lock
    assert sorted(os.listdir(root)) == [
        "beam-pipeline-temp-unrecorded", "beam-pipeline-tempfile", "users-folder"]
    assert os.path.isdir(tmp_path / "elsewhere" / "beam-pipeline-tempx")


def test_write_section_records_the_in_memory_counts_beside_the_settings(tmp_path):
  section = stage_run.write_section(str(tmp_path), "test", {"engine": "local"}, {"edges": 4})
  assert section == {"edges": 4, "engine": "local"}
  with open(tmp_path / "summary.json", encoding="utf-8") as f:
    assert json.load(f) == {"test": {"edges": 4, "engine": "local"}}
