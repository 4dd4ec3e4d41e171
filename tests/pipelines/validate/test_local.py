"""`gcml validate --engine=local` writes the Beam engine's bytes, for 1 and 2 Beam workers."""

import json

import pytest

from pipelines.validate import stage as validate
from tests.pipelines.examples import messy_world, worlds

ONE_WORKER = ["--runner=FnApiRunner"]
TWO_WORKERS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  return messy_world.messy_world(str(tmp_path_factory.mktemp("messy")))


def _run(world, out, engine, *more):
  validate.run([f"--edges={world.edges_glob}", f"--features={world.features_glob}",
                f"--output_dir={out}", f"--modalities={worlds.MODALITIES}",
                f"--engine={engine}", *more])
  return worlds.output_bytes(str(out))


@pytest.mark.parametrize("flags,workers", [
    (["--edge_combine=sum", "--max_abs_feature=2"], ONE_WORKER), ([], TWO_WORKERS)])
def test_local_writes_the_beam_bytes(world, tmp_path, flags, workers):
  local = _run(world, tmp_path / "local", "local", *flags)
  beam = _run(world, tmp_path / "beam", "beam", *flags, *workers)
  assert sorted(local) == sorted(beam) == ["rejected/_MANIFEST-validate.json",
                                           "rejected/validate-00000-of-00001.tsv",
                                           "summary.json"]
  assert local == beam


def test_counts(world, tmp_path):
  outputs = _run(world, tmp_path / "a", "local", "--edge_combine=sum", "--max_abs_feature=2")
  section = json.loads(outputs["summary.json"])["validate"]
  assert section["rejected/mean_rgb_out_of_range"] > 0
  assert section["rejected/weight_sum_overflow"] == 1
  assert section["edges/endpoints_without_features"] > 0
  outputs = _run(world, tmp_path / "b", "local")
  section = json.loads(outputs["summary.json"])["validate"]
  assert section["features/items_without_edges"] == 1  # g0
