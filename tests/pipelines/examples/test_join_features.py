"""`pipelines/examples/join_features.py`: the triplet (contract 5) and labelled (contract 6)
records, parsed back field by field."""

import numpy as np

from pipelines.examples.join_features import labelled_record, level_name, triplet_record
from pipelines.io import tf_example
from pipelines.io.modality_spec import Modality

MODS = (Modality("rgb", 2), Modality("audio", 1))


def _features(k):
  return {"rgb": np.array([k, k + 0.5], np.float32), "audio": np.array([-k], np.float32)}


def test_level_names():
  assert [level_name(level) for level in (-1, 0, 2)] == ["random", "level_0", "level_2"]


def test_triplet_record_fields():
  record = tf_example.parse(triplet_record(("a", "p", "n"), 1, [_features(k) for k in range(3)],
                                           MODS))
  assert sorted(record) == ["anchor/audio", "anchor/id", "anchor/rgb", "level", "negative/audio",
                            "negative/id", "negative/rgb", "positive/audio", "positive/id",
                            "positive/rgb"]
  assert record["level"] == [1]
  assert [record[f"{role}/id"] for role in ("anchor", "positive", "negative")] == [
      [b"a"], [b"p"], [b"n"]]
  assert np.array_equal(record["negative/rgb"], [2.0, 2.5])
  assert np.array_equal(record["positive/audio"], [-1.0])


def test_triplet_record_with_cluster_ids_and_a_random_negative():
  record = tf_example.parse(triplet_record(("a", "p", "n"), -1, [_features(0)] * 3, MODS[:1],
                                           clusters=("l0-a", "l0-p")))
  assert record["level"] == [-1]
  assert (record["anchor/cluster"], record["positive/cluster"]) == ([b"l0-a"], [b"l0-p"])
  assert "negative/cluster" not in record and "anchor/audio" not in record


def test_labelled_record_fields():
  record = tf_example.parse(labelled_record("v1", 4, _features(1), MODS))
  assert sorted(record) == ["audio", "id", "label", "rgb"]
  assert (record["id"], record["label"]) == ([b"v1"], [4])
  assert np.array_equal(record["rgb"], [1.0, 1.5])


def test_records_are_deterministic_bytes():
  a = triplet_record(("a", "p", "n"), 0, [_features(k) for k in range(3)], MODS)
  b = triplet_record(("a", "p", "n"), 0, [_features(k) for k in range(3)], MODS)
  assert a == b
