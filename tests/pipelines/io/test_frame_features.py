"""Frame-level features: the SequenceExample contract and dequantisation. (Both readers:
test_frame_validation.py.)"""

import numpy as np
import pytest
import tensorflow as tf

from pipelines.io import features, item_ids
from pipelines.io import frame_features as ff
from tests.pipelines import files
from tests.pipelines.io.frame_items import MODS, float_frame_record, frame_arrays


def test_dequantize_matches_youtube8m_formula():
  # byte * 4/255 + 4/512 - 2, computed by hand for 0, 128 and 255.
  np.testing.assert_allclose(ff.dequantize(bytes([0, 128, 255])),
                             [-1.9921875, 128 * 4 / 255 + 4 / 512 - 2, 2.0078125], atol=1e-6)
  q = ff.quantize(np.array([-2.5, -1.9921875, 0.0, 2.0078125, 9.0]))
  np.testing.assert_array_equal(q, [0, 0, 127, 255, 255])


def test_encode_is_a_deterministic_sequence_example():
  record = ff.encode("v1", frame_arrays(), labels=(3, 9))
  parsed = tf.train.SequenceExample.FromString(record)
  assert parsed.context.feature["id"].bytes_list.value == [b"v1"]
  assert list(parsed.context.feature["labels"].int64_list.value) == [3, 9]
  assert len(parsed.feature_lists.feature_list["rgb"].feature) == 3
  assert parsed.SerializeToString(deterministic=True) == record
  tf_parsed = tf.io.parse_single_sequence_example(
      record, context_features={"id": tf.io.FixedLenFeature([], tf.string)},
      sequence_features={"rgb": tf.io.FixedLenSequenceFeature([], tf.string)})
  assert tf_parsed[1]["rgb"].shape == (3,)


def test_parse_accepts_quantized_and_float_frames():
  item = ff.parse_frame_item(ff.encode("v7", frame_arrays(value=1.0), labels=(3,)), MODS)
  assert item.id == "v7" and item.labels == (3,)
  assert item.frames["rgb"].shape == (3, 4) and item.frames["rgb"].dtype == np.float32
  # 1.0 quantises to round((1 + 2 - 4/512) * 255/4) = round(190.75) = 191.
  np.testing.assert_allclose(item.frames["rgb"], 191 * 4 / 255 + 4 / 512 - 2, atol=1e-6)
  exact = ff.parse_frame_item(float_frame_record("f", frame_arrays(value=0.25)), MODS)
  np.testing.assert_array_equal(exact.frames["audio"], np.full((3, 2), 0.25, np.float32))


def _mixed():
  seq = tf.train.SequenceExample.FromString(float_frame_record("m", frame_arrays()))
  seq.feature_lists.feature_list["rgb"].feature[1].Clear()
  seq.feature_lists.feature_list["rgb"].feature[1].bytes_list.value.append(b"\x01" * 4)
  return seq.SerializeToString()


@pytest.mark.parametrize("record,reason", [
    (ff.encode("v", frame_arrays(rgb=3)), "rgb_wrong_length"),
    (float_frame_record("v", frame_arrays(audio=5)), "audio_wrong_length"),
    (float_frame_record("v", frame_arrays(value=np.nan)), "rgb_not_finite"),
    (float_frame_record("v", frame_arrays(value=3e38)), "rgb_out_of_range"),
    (ff.encode("v", {"rgb": frame_arrays()["rgb"]}), "audio_missing"),
    (ff.encode("v", frame_arrays(n=0)), "rgb_empty"),
    (ff.encode("v", {"rgb": frame_arrays(n=3)["rgb"], "audio": frame_arrays(n=2)["audio"]}),
     ff.FRAME_COUNT_MISMATCH),
    (_mixed(), "rgb_not_float"),
    (ff.encode("", frame_arrays()), features.EMPTY_ID),
    (ff.encode("v\t1", frame_arrays()), item_ids.ID_CONTROL_CHARACTER),
    (b"\x0a\xff not a proto", ff.NOT_A_SEQUENCE_EXAMPLE),
    (files.item_record("v"), "rgb_missing"),  # a video-level Example has no feature lists
])
def test_parse_rejects(record, reason):
  assert ff.parse_frame_item(record, MODS) == reason


def test_shown_record_names_the_id():
  record = ff.encode(" bad", frame_arrays(rgb=3))
  assert ff.shown_record(record).startswith("id=bad b64:")
  assert ff.shown_record(b"\x0a\xff junk").startswith("b64:")
