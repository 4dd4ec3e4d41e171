"""`model/input_files.py`: which names the trainer's globs mean, whole shard sets, first records."""

import json
import logging
import warnings
from unittest import mock

import pytest
import tensorflow as tf
from tensorflow.python.util import deprecation

from model import input_files
from model.errors import ConfigError
from pipelines.io.tfrecord_frames import tfrecord_frame
from tests.pipelines import files


def _shards(folder, n, of=None):
  return [files.write_tfrecord(f"{folder}/triplets-{k:05d}-of-{of or n:05d}.tfrecord", [b"r"])
          for k in range(n)]


def test_side_files_are_skipped(tmp_path):
  shards = _shards(tmp_path, 2)
  for name in ("summary.json", "classes.tsv", "_SUCCESS", ".tmp-x"):
    (tmp_path / name).write_text("{}")
  (tmp_path / "rejected").mkdir()
  assert input_files.list_files(f"{tmp_path}/*") == shards


def test_comma_separated_globs(tmp_path):
  (tmp_path / "a").mkdir()
  (tmp_path / "b").mkdir()
  a, b = _shards(tmp_path / "a", 1), _shards(tmp_path / "b", 1)
  assert input_files.list_files(f"{tmp_path}/a/*, {tmp_path}/b/*") == a + b


def test_no_match_and_only_side_files_are_one_line(tmp_path):
  with pytest.raises(ConfigError, match=r"^--eval_data: no file matches .*/none-\*$"):
    input_files.list_files(f"{tmp_path}/none-*", "--eval_data")
  (tmp_path / "summary.json").write_text("{}")
  with pytest.raises(ConfigError, match=r"^--train_data: .*/\* matches no example shard, only "
                                        r"summary\.json$"):
    input_files.list_files(f"{tmp_path}/*")


def test_a_partial_shard_set_is_refused_unless_unchecked(tmp_path):
  shards = _shards(tmp_path, 2, of=3)  # a killed run: 2 of 3 shards
  with pytest.raises(ConfigError, match=r"partial shard set: 2 of 3 shards"):
    input_files.list_files(f"{tmp_path}/triplets-*")
  assert input_files.list_files(f"{tmp_path}/triplets-*", check_sets=False) == shards


def test_first_record(tmp_path):
  path = files.write_tfrecord(str(tmp_path / "a.tfrecord"), [b"one", b"two"])
  assert input_files.first_record(path, "--train_data") == b"one"
  empty = files.write_tfrecord(str(tmp_path / "e.tfrecord"), [])
  assert input_files.first_record(empty, "--train_data") is None
  (tmp_path / "t.tfrecord").write_text(json.dumps({"not": "a record"}) * 3)
  with pytest.raises(ConfigError, match=r"^--train_data: .*/t\.tfrecord is not a TFRecord file"):
    input_files.first_record(str(tmp_path / "t.tfrecord"), "--train_data")


ONE = tfrecord_frame(b"one")  # 19 bytes: length 0-7, its CRC 8-11, b"one" 12-14, its CRC 15-18
TWO = tfrecord_frame(b"two")


def _flip(data, at):
  return data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]


# (file bytes, the first record or the error's detail); TensorFlow's reader agrees on each.
FIRST_RECORDS = {
    "two_records": (ONE + TWO, b"one"),
    "second_cut": (ONE + TWO[:5], b"one"),
    "second_corrupt": (ONE + _flip(TWO, 12), b"one"),
    "big_first": (tfrecord_frame(bytes(range(256)) * 800) + TWO, bytes(range(256)) * 800),
    "empty": (b"", None),
    "header_cut": (ONE[:12], "truncated record at byte 0"),
    "data_cut": (ONE[:14], "truncated record at byte 0"),
    "data_crc_cut": (ONE[:17], "truncated record at byte 0"),
    "length_damaged": (_flip(ONE, 0), "bad length checksum at byte 0"),
    "length_crc_damaged": (_flip(ONE, 9), "bad length checksum at byte 0"),
    "data_damaged": (_flip(ONE, 12), "bad data checksum at byte 0"),
    "data_crc_damaged": (_flip(ONE, 17), "bad data checksum at byte 0"),
    "text": (b'{"not": "a record"}' * 3, "bad length checksum at byte 0"),
    # TensorFlow's reader sees no record in a file shorter than a frame header;
    # gcml's readers (pipelines/io/inputs.check_tfrecord too) refuse it.
    "shorter_than_a_header": (ONE[:5], "truncated record at byte 0"),
}


@pytest.mark.parametrize("case", sorted(FIRST_RECORDS))
def test_first_record_of_good_truncated_and_corrupt_files(tmp_path, case):
  data, expected = FIRST_RECORDS[case]
  path = tmp_path / f"{case}.tfrecord"
  path.write_bytes(data)
  if isinstance(expected, str):
    with pytest.raises(ConfigError) as raised:
      input_files.first_record(str(path), "--eval_data")
    assert str(raised.value) == f"--eval_data: {path} is not a TFRecord file ({expected})"
  else:
    assert input_files.first_record(str(path), "--eval_data") == expected
  # What TensorFlow's own reader (the one the trainer's tf.data input uses) makes of it.
  try:
    tf_first = [r.numpy() for r in tf.data.TFRecordDataset(str(path)).take(1)]
  except tf.errors.DataLossError:
    tf_first = "DataLossError"
  if case == "shorter_than_a_header":
    assert tf_first == []
  elif isinstance(expected, str):
    assert tf_first == "DataLossError"
  else:
    assert tf_first == ([expected] if expected else [])


def test_unreadable_paths_name_tensorflow_error(tmp_path):
  with pytest.raises(ConfigError, match=r"^--train_data: .*/missing\.tfrecord is not a "
                                        r"TFRecord file \(NotFoundError\)$"):
    input_files.first_record(str(tmp_path / "missing.tfrecord"), "--train_data")
  with pytest.raises(ConfigError, match=r"is not a TFRecord file \(FailedPreconditionError\)$"):
    input_files.first_record(str(tmp_path), "--train_data")


def test_first_record_uses_no_deprecated_reader(tmp_path, caplog):
  path = files.write_tfrecord(str(tmp_path / "a.tfrecord"), [b"one"])
  # TensorFlow logs a deprecation once per process: forget earlier ones while reading.
  with mock.patch.dict(deprecation._PRINTED_WARNING, clear=True), \
       warnings.catch_warnings(record=True) as caught, \
       caplog.at_level(logging.WARNING, logger="tensorflow"):
    warnings.simplefilter("always")
    assert input_files.first_record(path, "--train_data") == b"one"
  assert [str(w.message) for w in caught
          if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))] == []
  assert [r.getMessage() for r in caplog.records if r.name == "tensorflow"] == []
