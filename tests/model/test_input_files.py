"""`model/input_files.py`: which names the trainer's globs mean, whole shard sets, first records."""

import json

import pytest

from model import input_files
from model.errors import ConfigError
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
