"""Dataflow workers get gcml's code: setup.py staging and the custom container.

Every Beam pipeline subcommand (validate, cluster, examples, export, and
evaluate --engine=beam) has its own offline `--runner=DataflowRunner
--dry_run=True` test beside its other tests; `synth` (numpy) and evaluate's
default engine (in memory) are not Beam pipelines. This file
checks what those dry runs do not assert: that the job really carries this
checkout's setup.py as an sdist for the workers, and that
`--sdk_container_image` switches that off.
"""

import inspect
import pathlib
import tarfile

import pytest
from apache_beam.options.pipeline_options import SetupOptions, WorkerOptions

from launch import main as gcml
from pipelines.clustering import stage as cluster
from pipelines.evaluation import stage as evaluate
from pipelines.export import stage as export
from pipelines.examples import stage as make_examples
from pipelines import runner
from pipelines.io import stage_run
from pipelines.validate import stage as validate
from pipelines.evaluation import beam_engine

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATAFLOW = ["--runner=DataflowRunner", "--project=gcml-test", "--region=us-central1",
            "--temp_location=gs://gcml-test/tmp"]


def test_dataflow_options_stage_this_setup_py():
  assert runner.SETUP_PY == ROOT / "setup.py" and runner.SETUP_PY.exists()
  options = runner.pipeline_options(DATAFLOW + ["--sdk_location=container"])
  assert options.view_as(SetupOptions).setup_file == str(runner.SETUP_PY)


def test_custom_container_or_explicit_setup_file_is_left_alone():
  image = "us-central1-docker.pkg.dev/gcml-test/gcml/dataflow:0.1.0"
  options = runner.pipeline_options(DATAFLOW + [f"--sdk_container_image={image}",
                                                "--sdk_location=container"])
  assert options.view_as(SetupOptions).setup_file is None
  assert options.view_as(WorkerOptions).sdk_container_image == image
  options = runner.pipeline_options(DATAFLOW + ["--setup_file=/elsewhere/setup.py"])
  assert options.view_as(SetupOptions).setup_file == "/elsewhere/setup.py"
  assert runner.pipeline_options([]).view_as(SetupOptions).setup_file is None  # DirectRunner


@pytest.mark.parametrize("module", [validate, cluster, make_examples, export, beam_engine],
                         ids=lambda m: m.__name__)
def test_every_beam_pipeline_takes_its_options_from_the_runner(module):
  # The setup.py default lives in runner.pipeline_options; a pipeline that built
  # PipelineOptions itself would ship no code to Dataflow workers. Every stage runs its
  # engine through stage_run.run_engine, which takes its options from the runner.
  source = inspect.getsource(getattr(module, "run_config", module.run))
  assert "stage_run.run_engine(" in source and "PipelineOptions(" not in source
  engine = inspect.getsource(stage_run.run_engine)
  assert "runner.pipeline_options(" in engine and "runner.run(" in engine


def test_evaluate_is_not_a_beam_pipeline():
  assert "beam.Pipeline(" not in inspect.getsource(evaluate)


def _staged_files(result) -> dict:
  """The dry-run job's staged files: {staged name: (local path, member names if a tarball)}."""
  from apache_beam.portability.api import beam_runner_api_pb2  # pylint: disable=import-outside-toplevel
  staged = {}
  for env in result.job.proto_pipeline.components.environments.values():
    for dep in env.dependencies:
      name = beam_runner_api_pb2.ArtifactStagingToRolePayload.FromString(dep.role_payload)
      path = beam_runner_api_pb2.ArtifactFilePayload.FromString(dep.type_payload).path
      members = None
      if path.endswith(".tar.gz"):
        with tarfile.open(path) as tar:
          members = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
      staged[name.staged_name] = (path, members)
  return staged


def test_dry_run_job_carries_the_setup_py_sdist(tmp_path, monkeypatch):
  data = tmp_path / "data"
  assert gcml.main(["synth", f"--output_dir={data}", "--num_items=300", "--processes=1"]) == 0
  jobs = []
  real_run = runner.run

  def spy(pipeline, what):
    result = real_run(pipeline, what)
    jobs.append(_staged_files(result))  # read now: the run's temp folder goes when it ends
    return result

  monkeypatch.setattr(runner, "run", spy)
  code = gcml.main(["validate", f"--edges={data}/edges-*.csv", f"--features={data}/features-*",
                    f"--output_dir={tmp_path}/out", "--dry_run=True",
                    "--sdk_location=container"] + DATAFLOW)
  assert code == 0 and len(jobs) == 1
  staged = jobs[0]
  # Beam stages the sdist built from --setup_file as workflow.tar.gz; workers pip install it.
  assert "workflow.tar.gz" in staged, staged
  path, names = staged["workflow.tar.gz"]
  assert pathlib.Path(path).name == "gcml-0.1.0.tar.gz"
  for needed in ("setup.py", "pipelines/runner.py", "pipelines/validate/stage.py",
                 "model/__init__.py", "launch/main.py"):
    assert needed in names
  assert not any(n.startswith("tests/") for n in names)
