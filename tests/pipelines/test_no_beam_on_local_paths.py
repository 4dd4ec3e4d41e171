"""The in-memory engines run without importing Beam (`pipelines/beam_parts.py`).

Each check runs in a fresh Python process, which reports the `apache_beam`
modules it loaded; a top-level Beam import added back to a module on these
paths makes the list non-empty.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from pipelines import beam_parts
from tests.pipelines.examples import messy_world, worlds

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCAL_MODULES = ("launch.main", "launch.validate", "launch.cluster", "launch.examples",
                 "launch.evaluate", "launch.demo_report",
                 "pipelines.validate.local", "pipelines.examples.local.engine",
                 "pipelines.evaluation.stage", "pipelines.evaluation.local_engine",
                 "pipelines.io.features", "pipelines.io.edges_local", "pipelines.io.file_system",
                 "launch.export", "pipelines.export.stage", "pipelines.export.local",
                 "pipelines.export.local_related")
REPORT = ("import json, sys; print(json.dumps(sorted(m for m in sys.modules "
          "if m.split('.')[0] == 'apache_beam')))")


def _beam_modules_after(code: str) -> list:
  """The `apache_beam` modules a fresh process has loaded after running `code`."""
  done = subprocess.run([sys.executable, "-c", f"{code}\n{REPORT}"], cwd=REPO, check=True,
                        capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": REPO})
  return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_local_engines_loads_no_beam():
  assert _beam_modules_after("".join(f"import {m}\n" for m in LOCAL_MODULES)) == []


def test_the_beam_transforms_come_with_beam_from_their_beam_modules():
  loaded = _beam_modules_after("from pipelines.io import features_beam\n"
                               "assert features_beam.ReadFeatures.__module__ == "
                               "'pipelines.io.features_beam'")
  assert "apache_beam" in loaded


@pytest.mark.slow
def test_running_the_local_engines_loads_no_beam(tmp_path):
  world = messy_world.messy_world(str(tmp_path / "world"))
  common = [f"--edges={world.edges_glob}", f"--modalities={worlds.MODALITIES}",
            "--engine=local"]
  runs = [["validate", f"--features={world.features_glob}",
           f"--output_dir={tmp_path / 'validate'}", *common],
          ["cluster", f"--output_dir={tmp_path / 'cluster'}", common[0], common[2]],
          ["examples", "--kind=smart", f"--features={world.features_glob}",
           f"--clusters={world.clusters_dir}", f"--output_dir={tmp_path / 'smart'}", *common],
          ["examples", "--kind=labels", f"--features={world.features_glob}",
           f"--clusters={world.clusters_dir}", f"--output_dir={tmp_path / 'labels'}", *common]]
  code = ("from launch.main import main\n"
          + "".join(f"assert main({run!r}) == 0\n" for run in runs))
  assert _beam_modules_after(code) == []
  assert glob.glob(str(tmp_path / "smart" / "triplets-*.tfrecord"))
  assert glob.glob(str(tmp_path / "cluster" / "assignments-*.tsv"))


def test_evaluating_in_memory_loads_no_beam(tmp_path):
  from launch import main as gcml  # pylint: disable=import-outside-toplevel
  from pipelines.io import features, inputs, sharded_io, tf_example  # pylint: disable=import-outside-toplevel
  world = str(tmp_path / "world")
  assert gcml.main(["synth", f"--output_dir={world}", "--num_items=120",
                    "--modalities=mean_rgb:6,mean_audio:3"]) == 0
  items = features.read_features_local(
      inputs.expand(f"{world}/features-*.tfrecord", "features"),
      features.parse_modalities("mean_rgb:6,mean_audio:3"), "test").items
  sharded_io.write_sorted_shards_local(
      [(i, tf_example.encode({"id": i, "embedding": item.features["mean_rgb"]}))
       for i, item in items.items()], str(tmp_path / "model" / "embeddings"), ".tfrecord", 1,
      sharded_io.TFRECORD)
  run = ["evaluate", f"--embeddings={tmp_path}/model/embeddings-*",
         f"--edges={world}/edges-*.csv", f"--features={world}/features-*.tfrecord",
         f"--output_dir={tmp_path}/evaluate"]
  assert _beam_modules_after(f"from launch.main import main\nassert main({run!r}) == 0\n") == []
  assert os.path.exists(tmp_path / "evaluate" / "metrics.json")


def test_tagged_output_without_beam_has_beams_fields():
  tagged = beam_parts.TaggedOutput("stats", ("a", 1))
  assert (tagged.tag, tagged.value) == ("stats", ("a", 1))
  # This test process has Beam loaded (other tests import it), so the real one comes back.
  import apache_beam as beam  # pylint: disable=import-outside-toplevel
  real = beam_parts.tagged_output("stats", ("a", 1))
  assert isinstance(real, beam.pvalue.TaggedOutput)
  assert (real.tag, real.value) == ("stats", ("a", 1))
