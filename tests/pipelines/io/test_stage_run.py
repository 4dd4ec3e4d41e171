"""pipelines/io/stage_run.py: edge inputs resolved once, the engine run, the summary section."""

import json
import tempfile

import apache_beam as beam
import pytest

from pipelines.errors import InputError
from pipelines.io import stage_run, summary
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
         | summary.WriteStats(str(tmp_path), "test"))

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


def test_write_section_records_the_in_memory_counts_beside_the_settings(tmp_path):
  section = stage_run.write_section(str(tmp_path), "test", {"engine": "local"}, {"edges": 4})
  assert section == {"edges": 4, "engine": "local"}
  with open(tmp_path / "summary.json", encoding="utf-8") as f:
    assert json.load(f) == {"test": {"edges": 4, "engine": "local"}}
