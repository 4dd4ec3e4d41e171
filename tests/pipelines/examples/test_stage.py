"""`pipelines/examples/stage.py` (`gcml examples`) as a command: one-line errors, and the Dataflow
job graph offline."""

import importlib

import apache_beam as beam
import pytest

from launch import main as gcml
from pipelines.examples import stage as make_examples
from pipelines.examples import stage_beam
from pipelines import runner
from tests.pipelines.examples import worlds

DATAFLOW = ["--runner=DataflowRunner", "--dry_run=True", "--project=test-project",
            "--region=us-central1", "--temp_location=gs://test-bucket/tmp",
            "--sdk_location=container"]


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  return worlds.hand_world(str(tmp_path_factory.mktemp("cli")))


def flags(world, kind, out, *more):
  return [f"--kind={kind}", f"--edges={world.edges_glob}", f"--features={world.features_glob}",
          f"--clusters={world.clusters_dir}", f"--output_dir={out}",
          f"--modalities={worlds.MODALITIES}", *more]


@pytest.mark.parametrize("args,message", [
    (["--kind=smart", "--features={f}", "--output_dir={o}", "--edges={e}"],
     "--kind=smart needs --clusters"),
    (["--kind=random", "--features={f}", "--output_dir={o}"], "--kind=random needs --edges"),
    (["--kind=smart", "--features={f}", "--output_dir={o}", "--edges={e}", "--clusters={c}",
      "--level=3"], "--level=3 but the cluster tables have 3 level(s)"),
    (["--kind=labels", "--features={f}", "--output_dir={o}", "--clusters={o}"],
     "--clusters: no file matches"),
    (["--kind=labels", "--features={f}", "--output_dir={o}", "--clusters={c}",
      "--max_per_cluster=0"], "--max_per_cluster must be at least 1"),
])
def test_errors_are_one_line(world, tmp_path, capsys, args, message):
  fill = {"f": world.features_glob, "e": world.edges_glob, "c": world.clusters_dir,
          "o": str(tmp_path / "out")}
  code = gcml.main(["examples"] + [a.format(**fill) for a in args] + ["--runner=FnApiRunner"])
  err = capsys.readouterr().err.strip()
  assert code == 2
  assert err.startswith("gcml examples: error: ") and message in err and "\n" not in err


def _dataflow_client_missing():
  try:
    importlib.import_module("apache_beam.runners.dataflow.internal.apiclient")
  except ImportError as e:
    return f"the Dataflow client is not installed (apache-beam[gcp]): {e}"
  return None


@pytest.mark.parametrize("kind", ["smart", "random", "labels"])
def test_dataflow_dry_run(world, tmp_path, kind):
  # apache-beam[gcp] is in the dev extra: CI always builds the real job graph.
  assert _dataflow_client_missing() is None
  assert make_examples.run(flags(world, kind, str(tmp_path / "out")) + DATAFLOW) == {}


@pytest.mark.parametrize("kind,level", [("smart", 0), ("smart", 1), ("random", 0),
                                        ("labels", 0)])
def test_dataflow_job_graph_offline(world, tmp_path, kind, level):
  """What DataflowRunner does to the graph before it needs the cloud client."""
  from apache_beam.runners.dataflow.dataflow_runner import DataflowRunner
  from apache_beam.runners.pipeline_utils import group_by_key_input_visitor
  from apache_beam.runners.portability.fn_api_runner import translations

  config, args = make_examples.parse_args(
      flags(world, kind, str(tmp_path / "out"), f"--level={level}", "--num_triplets=10")
      + DATAFLOW)
  pipeline = beam.Pipeline(options=runner.pipeline_options(args))
  # Building reads no file: only the paths go into the graph.
  stage_beam.build(pipeline, config, ["e.csv"], ["f.tfrecord"], ["a.tsv"], 3)
  pipeline.visit(DataflowRunner.combinefn_visitor())
  pipeline.visit(DataflowRunner.side_input_visitor(deterministic_key_coders=True))
  pipeline.replace_all(DataflowRunner._PTRANSFORM_OVERRIDES)  # pylint: disable=protected-access
  pipeline.visit(group_by_key_input_visitor(True))
  proto = pipeline.to_runner_api()
  proto = translations.optimize_pipeline(
      proto, phases=[translations.pack_combiners, translations.sort_stages],
      known_runner_urns=frozenset(), partial=True)
  names = {t.unique_name for t in proto.components.transforms.values()}
  assert "WriteRecords" in names and "WriteStats" in names
  if kind == "smart":
    assert f"SmartNegatives/JoinL{level}" in names
