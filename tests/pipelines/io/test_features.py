"""Feature records (contract 2): validation, duplicates, and a TF round trip."""

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipelines.io import features, item_ids, tf_example
from pipelines.io import features_beam
from pipelines.errors import InputError
from tests.pipelines import files

MODS = (features.Modality("mean_rgb", 4), features.Modality("mean_audio", 2))


@pytest.mark.parametrize("record,reason", [
    (files.item_record("v", rgb_dim=3), "mean_rgb_wrong_length"),
    (files.item_record("v", audio_dim=5), "mean_audio_wrong_length"),
    (files.item_record("v", value=np.nan), "mean_rgb_not_finite"),
    (files.item_record("v", mean_audio=np.array([1, np.inf], np.float32)), "mean_audio_not_finite"),
    (files.item_record("v", mean_audio=None), "mean_audio_missing"),
    (files.item_record("v", mean_rgb=[1, 2, 3, 4]), "mean_rgb_not_float"),
    (files.item_record(""), features.EMPTY_ID),
    (files.item_record("v\t1"), item_ids.ID_CONTROL_CHARACTER),
    (files.item_record("v\n1"), item_ids.ID_CONTROL_CHARACTER),
    (files.item_record("v", id=None), features.MISSING_ID),
    (files.item_record("v", labels=[0.5]), features.BAD_LABELS),
    (b"\x0a\xff not a proto", features.NOT_AN_EXAMPLE),
    (files.item_record("v", value=3e38), "mean_rgb_out_of_range"),  # finite, still poison
    (files.item_record("v", mean_audio=np.array([1, -2e6], np.float32)),
     "mean_audio_out_of_range"),
    (files.item_record("v", id=[12]), item_ids.ID_NOT_BYTES),  # int64 id, not not_utf8
])
def test_parse_item_rejects(record, reason):
  assert features.parse_item(record, MODS) == reason


def test_max_abs_feature_bound_and_rejected_record_shows_the_id():
  assert features.parse_item(files.item_record("v", value=3e38), MODS, max_abs=1e39).id == "v"
  assert features.parse_item(files.item_record("v", value=1e6), MODS).id == "v"
  with pytest.raises(InputError, match="--max_abs_feature must be a finite number > 0"):
    features.check_max_abs(0.0)
  record = files.item_record(" nan_item", value=np.nan)
  shown = features.shown_record(record)
  assert shown.startswith("id=nan_item b64:") and shown.endswith(
      features.binary_record(record)[4:])
  assert features.shown_record(b"\x0a\xff junk").startswith("b64:")


def test_parse_item_accepts():
  item = features.parse_item(files.item_record("v7", labels=(3, 9)), MODS)
  assert item.id == "v7" and item.labels == (3, 9)
  np.testing.assert_array_equal(item.features["mean_rgb"], np.full(4, 0.5, np.float32))


def test_parse_modalities():
  assert features.parse_modalities("a:3, b:7") == (("a", 3), ("b", 7))
  for bad in ("a", "a:0", "a:x", "a:3,a:4"):
    with pytest.raises(InputError):
      features.parse_modalities(bad)


def test_encoded_example_parses_with_tensorflow():
  rgb = np.random.default_rng(0).normal(size=4).astype(np.float32)
  data = tf_example.encode({"id": "v1", "mean_rgb": rgb, "mean_audio": np.ones(2, np.float32),
                            "labels": [4, 0, 123456789012]})
  parsed = tf.io.parse_example(tf.constant([data]), {
      "id": tf.io.FixedLenFeature([], tf.string),
      "mean_rgb": tf.io.FixedLenFeature([4], tf.float32),
      "mean_audio": tf.io.FixedLenFeature([2], tf.float32),
      "labels": tf.io.VarLenFeature(tf.int64)})
  assert parsed["id"].numpy()[0] == b"v1"
  np.testing.assert_array_equal(parsed["mean_rgb"].numpy()[0], rgb)
  assert parsed["labels"].values.numpy().tolist() == [4, 0, 123456789012]
  assert tf_example.parse(data)["labels"] == [4, 0, 123456789012]


def test_read_features_keeps_one_record_per_id(tmp_path):
  a1, a2 = files.item_record("a", value=1.0), files.item_record("a", value=2.0)
  records = [a2, files.item_record("b"), a1, files.item_record("c", rgb_dim=5)]
  path = files.write_tfrecord(str(tmp_path / "f.tfrecord"), records)
  kept = min(a1, a2)
  with TestPipeline(runner="FnApiRunner") as p:
    result = p | features_beam.ReadFeatures([path], MODS, stage="t")
    assert_that(result.items | beam.Map(lambda it: (it.id, float(it.features["mean_rgb"][0]))),
                equal_to([("a", 1.0 if kept == a1 else 2.0), ("b", 0.5)]), label="Items")
    assert_that(result.rejected | beam.Map(lambda r: r.reason),
                equal_to([features.DUPLICATE_ID, "mean_rgb_wrong_length"]), label="Rejected")
