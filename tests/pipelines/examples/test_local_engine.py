"""`gcml examples --engine=local` writes the Beam engine's bytes, for 1 and 2 Beam workers.

The world (`messy_world`) holds every kind of bad record the stage refuses
(edges, features, cluster tables), test and validation items, items without
features or without a cluster row, and a part dense enough for every
fall-back (pool empty, reservoir miss, every draw a neighbour) to happen.
"""

import json

import pytest

from pipelines.examples import stage as make_examples
from tests.pipelines.examples import messy_world, worlds

ONE_WORKER = ["--runner=FnApiRunner"]
TWO_WORKERS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]
CASES = {
    "smart_l0": ["--kind=smart", "--level=0", "--edge_combine=sum", "--num_shards=1"],
    "smart_all_levels": ["--kind=smart", "--level=1", "--all_levels", "--random_fraction=0.3",
                         "--num_triplets=150", "--reservoir_size=3", "--max_children=2",
                         "--negative_draws=1"],
    "smart_l2_uniform": ["--kind=smart", "--level=2", "--positive_sampling=uniform",
                         "--negative_draws=2"],
    "random": ["--kind=random", "--num_triplets=100", "--positives_per_anchor=2"],
    "labels": ["--kind=labels", "--level=1", "--max_per_cluster=4", "--min_cluster_size=3"],
    "validation": ["--kind=validation", "--num_shards=2"],
}


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  return messy_world.messy_world(str(tmp_path_factory.mktemp("messy")))


def _run(world, out, engine, case, *more):
  make_examples.run([f"--edges={world.edges_glob}", f"--features={world.features_glob}",
                     f"--clusters={world.clusters_dir}", f"--output_dir={out}",
                     f"--modalities={worlds.MODALITIES}", "--num_shards=3",
                     "--hot_threshold=3", f"--engine={engine}", *CASES[case], *more])
  return worlds.output_bytes(str(out))


# These cases run on two Beam worker processes only: the same transforms as on one, and the
# bytes must not depend on the worker count either (a one-worker run of them added nothing).
TWO_WORKER_CASES = ("smart_all_levels", "labels")


@pytest.mark.parametrize("case,workers", [
    (case, ONE_WORKER) for case in CASES if case not in TWO_WORKER_CASES] + [
        pytest.param(case, TWO_WORKERS, marks=pytest.mark.slow) for case in TWO_WORKER_CASES])
def test_local_writes_the_beam_bytes(world, tmp_path, case, workers):
  local = _run(world, tmp_path / "local", "local", case)
  beam = _run(world, tmp_path / "beam", "beam", case, *workers)
  assert sorted(local) == sorted(beam)
  assert [name for name in local if local[name] != beam[name]] == []


def test_every_rejection_kind_is_counted(world, tmp_path):
  outputs = _run(world, tmp_path / "out", "local", "smart_all_levels", "--edge_combine=sum")
  section = json.loads(outputs["summary.json"])["examples"]
  reasons = {k.split("/", 1)[1] for k in section if k.startswith("rejected/")}
  assert reasons >= {
      "assignment_duplicate_id", "assignment_empty_cluster", "assignment_empty_id",
      "assignment_not_utf8", "assignment_wrong_column_count", "csv_bad_quoting", "duplicate_id",
      "empty_id", "id_control_character", "mean_rgb_not_finite", "mean_rgb_wrong_length",
      "missing_id", "not_a_tf_example", "not_utf8", "self_loop", "tfrecord_bad_data_checksum",
      "tfrecord_truncated", "weight_infinite", "weight_nan", "weight_negative",
      "weight_not_a_number", "weight_sum_overflow", "weight_zero", "wrong_column_count"}
  for name in ("fallback/level_0_reservoir_miss", "fallback/level_1_draws_all_neighbours",
               "fallback/level_1_pool_empty", "triplets/duplicates_merged",
               "triplets/random", "items/assigned_without_features",
               "items/train_without_cluster", "edges/touching_validation"):
    assert section.get(name, 0) > 0, name


def test_rerun_replaces_the_beam_outputs(world, tmp_path):
  """A local run into a Beam run's folder (another shard count) leaves only its own files."""
  _run(world, tmp_path, "beam", "random", "--num_shards=5", *ONE_WORKER)
  outputs = _run(world, tmp_path, "local", "random")
  assert not [name for name in outputs if "-of-00005" in name]
