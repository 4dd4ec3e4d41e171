"""`gcml train`: modalities from the examples' summary or the records; whole shard sets only."""

import os

import numpy as np
import pytest

from launch import train as train_cli
from model import input as input_lib
from model.errors import ConfigError
from pipelines.io import sharded_io, summary, tf_example

DIMS = {"visual": 6, "audio": 3}


def _triplet(key: str) -> bytes:
  feats = {"level": [0]}
  for role in ("anchor", "positive", "negative"):
    feats[f"{role}/id"] = f"{role}-{key}"
    feats.update({f"{role}/{n}": np.full(d, 0.25, np.float32) for n, d in DIMS.items()})
  return tf_example.encode(feats)


def _triplets(directory, num_shards: int = 4, recorded: str | None = "visual:6,audio:3") -> str:
  os.makedirs(directory, exist_ok=True)
  sharded_io.write_sorted_shards_local([(f"t{i:02d}", _triplet(f"t{i:02d}")) for i in range(12)],
                                       os.path.join(directory, "triplets"), ".tfrecord",
                                       num_shards, sharded_io.TFRECORD)
  if recorded:
    summary.update_summary(str(directory), "examples", {"modalities": recorded})
  return os.path.join(directory, "triplets-*.tfrecord")


def _config(train_data, tmp_path, *flags):
  config, _ = train_cli.config_from_argv([f"--train_data={train_data}",
                                          f"--model_dir={tmp_path}/model", *flags])
  return config


def test_modalities_come_from_the_examples_summary(tmp_path):
  config = _config(_triplets(tmp_path / "ex"), tmp_path)
  assert config.modalities == (("visual", 6), ("audio", 3))


def test_given_modalities_that_differ_from_the_summary_name_both(tmp_path):
  data = _triplets(tmp_path / "ex")
  assert _config(data, tmp_path, "--modalities=audio:3,visual:6").modalities == (
      ("audio", 3), ("visual", 6))  # the same set, in the user's order
  with pytest.raises(ConfigError) as e:
    _config(data, tmp_path, "--modalities=mean_rgb:1024,mean_audio:128")
  assert str(e.value) == (
      f"--modalities names modalities mean_rgb:1024,mean_audio:128 but {tmp_path}/ex/summary.json"
      " (gcml examples, --train_data) records visual:6,audio:3; name the same ones, or leave "
      "--modalities out to use the recorded ones")


def test_validation_data_recorded_with_other_modalities_is_refused(tmp_path):
  data = _triplets(tmp_path / "ex")
  (tmp_path / "val").mkdir()
  summary.update_summary(str(tmp_path / "val"), "examples", {"modalities": "visual:6"})
  with pytest.raises(ConfigError, match="records visual:6;"):
    _config(data, tmp_path, f"--validation_data={tmp_path}/val")


def test_without_a_summary_the_first_record_tells(tmp_path):
  config = _config(_triplets(tmp_path / "ex", recorded=None), tmp_path)
  assert config.modalities == (("visual", 6), ("audio", 3))


def _check(pattern):
  input_lib.check_records(input_lib.InputConfig(pattern, "triplet", tuple(DIMS.items())))


def test_reader_takes_a_whole_set(tmp_path):
  _check(_triplets(tmp_path / "ex"))


def test_reader_refuses_a_set_without_its_manifest_when_shards_are_missing(tmp_path):
  data = _triplets(tmp_path / "ex")
  os.remove(tmp_path / "ex" / "_MANIFEST-triplets.json")  # a killed gcml examples
  os.remove(tmp_path / "ex" / "triplets-00003-of-00004.tfrecord")
  with pytest.raises(ConfigError) as e:
    _check(data)
  assert str(e.value) == (f"--train_data: {tmp_path}/ex/triplets-*.tfrecord: partial shard set: "
                          "3 of 4 shards")


def test_reader_refuses_a_set_missing_a_listed_shard(tmp_path):
  data = _triplets(tmp_path / "ex")
  os.remove(tmp_path / "ex" / "triplets-00001-of-00004.tfrecord")
  with pytest.raises(ConfigError, match="partial shard set: triplets-00001-of-00004.tfrecord "
                     r"\(listed in .*_MANIFEST-triplets.json, run [0-9a-f]+\) is missing"):
    _check(data)


def test_reader_refuses_two_runs_mixed(tmp_path):
  _triplets(tmp_path / "ex", num_shards=2)
  sharded_io.write_sorted_shards_local([("x", _triplet("x"))], str(tmp_path / "old" / "triplets"),
                                       ".tfrecord", 4, sharded_io.TFRECORD)
  os.rename(tmp_path / "old" / "triplets-00003-of-00004.tfrecord",
            tmp_path / "ex" / "triplets-00003-of-00004.tfrecord")
  with pytest.raises(ConfigError, match="is not part of the set in .* a stale or mixed shard set"):
    _check(str(tmp_path / "ex" / "triplets-*.tfrecord"))


def test_reader_refuses_a_whole_set_without_manifest_beside_a_stale_lock(tmp_path):
  """gcml examples killed after its last shard, before its manifest: _LOCK is left."""
  data = _triplets(tmp_path / "ex")
  os.remove(tmp_path / "ex" / "_MANIFEST-triplets.json")
  _check(data)  # four of four shards and no gcml bookkeeping: a user's own files
  with open(tmp_path / "ex" / "_LOCK", "w", encoding="utf-8") as f:
    f.write('{"command": "gcml examples", "host": "h", "pid": 1}\n')
  with pytest.raises(ConfigError) as e:
    _check(data)
  assert str(e.value) == (
      f"--train_data: {tmp_path}/ex/triplets-*.tfrecord: no manifest, and {tmp_path}/ex/_LOCK "
      "is there: the gcml run writing this folder has not finished or was killed; wait for it "
      "or rerun that stage")
