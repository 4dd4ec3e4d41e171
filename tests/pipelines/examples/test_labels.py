"""`gcml examples --kind=labels` (CLC): per-cluster cap, classes.tsv, features."""

import collections
import os

import numpy as np
import pytest

from pipelines.examples import stage as make_examples
from pipelines import hashing
from tests.pipelines.examples import worlds

RUNNER = ["--runner=FnApiRunner"]


@pytest.fixture(scope="module", name="labelled")
def _labelled(tmp_path_factory):
  world = worlds.hand_world(str(tmp_path_factory.mktemp("labels")))
  out = os.path.join(world.root, "out")
  section = make_examples.run([
      "--kind=labels", f"--features={world.features_glob}", f"--clusters={world.clusters_dir}",
      f"--output_dir={out}", f"--modalities={worlds.MODALITIES}", "--max_per_cluster=2",
      "--min_cluster_size=3", "--num_shards=2", "--seed=5"] + RUNNER)
  return world, out, section


def read_examples(out):
  import tensorflow as tf
  paths = sorted(os.path.join(out, p) for p in os.listdir(out) if p.startswith("examples-"))
  spec = {"id": tf.io.FixedLenFeature([], tf.string),
          "label": tf.io.FixedLenFeature([], tf.int64)}
  for name, dim in worlds.DIMS.items():
    spec[name] = tf.io.FixedLenFeature([dim], tf.float32)
  records = list(worlds.files.read_tfrecords(paths))
  return tf.io.parse_example(tf.constant(records), spec) if records else None


def read_classes(out):
  with open(os.path.join(out, "classes.tsv"), encoding="utf-8") as f:
    lines = f.read().splitlines()
  assert lines[0] == "label\tcluster\tsize"
  return [(int(a), b, int(c)) for a, b, c in (line.split("\t") for line in lines[1:])]


def test_cap_min_size_and_classes_match_examples(labelled):
  world, out, section = labelled
  classes = read_classes(out)
  parsed = read_examples(out)
  ids = [x.decode() for x in parsed["id"].numpy()]
  labels = parsed["label"].numpy().tolist()
  assert [c[0] for c in classes] == list(range(len(classes)))  # dense, sorted
  # Train members with features per L0 cluster: M0 5, M1 3, M2 5, M3 2 (< 3: dropped).
  assert sorted(c[1] for c in classes) == ["M0", "M1", "M2"]
  by_label = collections.Counter(labels)
  for label, cluster, size in classes:
    assert size == by_label[label] == 2  # the cap holds and classes.tsv matches
    members = [i for i, lab in zip(ids, labels) if lab == label]
    assert all(world.paths[i][0] == cluster for i in members)
    eligible = sorted((hashing.hash64(5, "label", m), m) for m in world.paths
                      if world.eligible(m) and world.paths[m][0] == cluster)
    assert sorted(members) == sorted(m for _, m in eligible[:2])  # deterministic sample
  assert len(set(ids)) == len(ids) == 6
  assert section["classes/count"] == 3 and section["examples/total"] == 6
  assert section["classes/dropped_small"] == 1 and section["items/in_dropped_classes"] == 2
  assert section["classes/size_p50"] == 2 and section["classes/members_max"] == 5
  assert section["classes/members_min"] == 3
  assert section["items/assigned_without_features"] == 1


def test_examples_carry_the_input_features_exactly(labelled):
  world, out, _ = labelled
  parsed = read_examples(out)
  for i, raw in enumerate(parsed["id"].numpy()):
    for name in worlds.DIMS:
      np.testing.assert_array_equal(parsed[name][i].numpy(), world.features[raw.decode()][name])
  assert world.names["t0"] not in {x.decode() for x in parsed["id"].numpy()}


def test_top_level_classes(labelled, tmp_path):
  world, _, _ = labelled
  out = str(tmp_path / "l2")
  section = make_examples.run([
      "--kind=labels", f"--features={world.features_glob}", f"--clusters={world.clusters_dir}",
      f"--output_dir={out}", f"--modalities={worlds.MODALITIES}", "--level=2"] + RUNNER)
  assert sorted((c[1], c[2]) for c in read_classes(out)) == [("T0", 13), ("T1", 2)]
  assert section["examples/total"] == 15 and "classes/dropped_small" not in section
