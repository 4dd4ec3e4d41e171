"""`gcml examples --kind=smart --cluster_id_level=L --cluster_positives=K` on the hand world.

Cluster ids: the optional `anchor/cluster` and `positive/cluster` fields are the
table's level-L ids ("" for an item without a row), and every other field of
every record is exactly the default run's. Cluster positives: each anchor's
positives are its usable graph neighbours plus up to K members of its L0
cluster that are not neighbours, and no negative is its own slot's positive.
"""

import os

import numpy as np
import pytest

from pipelines.examples import stage as make_examples
from pipelines.errors import InputError
from tests.pipelines.examples import worlds
from tests.pipelines.examples.smart_model import run_smart, true_pool, usable_neighbours

CLUSTER_FIELDS = ("anchor/cluster", "positive/cluster")


@pytest.fixture(scope="module", name="world")
def _world(tmp_path_factory):
  return worlds.hand_world(str(tmp_path_factory.mktemp("hand")))


def _plain(record):
  """A parsed record as plain lists, without the cluster fields."""
  return {k: np.asarray(v).tolist() for k, v in record.items() if k not in CLUSTER_FIELDS}


def _run(world, name, *flags):
  out = os.path.join(world.root, name)
  return out, run_smart(world, out, "--level=0", *flags)


def test_cluster_ids_are_the_tables_and_nothing_else_changes(world):
  plain, _ = _run(world, "plain")
  with_ids, _ = _run(world, "ids", "--cluster_id_level=1")
  records, default = worlds.read_triplets(with_ids), worlds.read_triplets(plain)
  assert len(records) == len(default) > 0
  for record, expected in zip(records, default):
    anchor, positive = record["anchor/id"][0].decode(), record["positive/id"][0].decode()
    assert list(record["anchor/cluster"]) == [world.paths[anchor][1].encode()]
    want = world.paths[positive][1] if positive in world.paths else ""
    assert list(record["positive/cluster"]) == [want.encode()]
    assert _plain(record) == _plain(expected)
  assert not any(k in CLUSTER_FIELDS for r in default for k in r)
  # e0 has features and edges but no table row: a positive with an unknown cluster.
  assert any(list(r["positive/cluster"]) == [b""] for r in records)


def test_cluster_positives_come_from_the_anchors_l0_cluster(world):
  out, section = _run(world, "cpos", "--cluster_positives=10", "--cluster_id_level=0")
  triplets = worlds.triplet_tuples(worlds.read_triplets(out))
  positives, added = {}, 0
  for anchor, positive, negative, level in triplets:
    positives.setdefault(anchor, set()).add(positive)
    assert negative != positive and negative not in world.neighbours(anchor)
    if level >= 0:
      assert negative in true_pool(world, anchor, level)
  for anchor, got in positives.items():
    mates = {m for m in world.paths if world.eligible(m) and
             world.paths[m][0] == world.paths[anchor][0]}
    from_cluster = mates - {anchor} - world.neighbours(anchor)
    assert got == usable_neighbours(world, anchor) | from_cluster, anchor
    added += len(from_cluster)
  assert added > 0 and section["positives/from_cluster"] == added
  for r in worlds.read_triplets(out):  # a cluster positive shares the anchor's L0 id
    if r["positive/id"][0].decode() not in world.neighbours(r["anchor/id"][0].decode()):
      assert list(r["positive/cluster"]) == list(r["anchor/cluster"])


@pytest.mark.slow
def test_cluster_positives_are_capped_and_deterministic(world, tmp_path):
  out, section = _run(world, "cpos1", "--cluster_positives=1")
  other = str(tmp_path / "two")
  run_smart(world, other, "--level=0", "--cluster_positives=1", "--direct_num_workers=2",
            "--direct_running_mode=multi_threading", "--hot_threshold=1")
  assert worlds.output_bytes(out) == worlds.output_bytes(other)
  per_anchor = {}
  for anchor, positive, _, _ in worlds.triplet_tuples(worlds.read_triplets(out)):
    if positive not in world.neighbours(anchor):
      per_anchor.setdefault(anchor, set()).add(positive)
  assert per_anchor and all(len(v) == 1 for v in per_anchor.values())
  assert section["positives/from_cluster"] == len(per_anchor)


@pytest.mark.parametrize("flags, message", [
    (["--kind=random", "--cluster_positives=1"], "are for --kind=smart"),
    (["--kind=smart", "--cluster_id_level=3"], "--cluster_id_level=3 but the cluster tables"),
])
def test_bad_flags_fail_in_one_line(world, tmp_path, flags, message):
  with pytest.raises(InputError, match=message):
    make_examples.run([*flags, f"--edges={world.edges_glob}",
                       f"--features={world.features_glob}", f"--clusters={world.clusters_dir}",
                       f"--output_dir={tmp_path}", f"--modalities={worlds.MODALITIES}",
                       "--runner=FnApiRunner"])
