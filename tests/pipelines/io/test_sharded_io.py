"""Deterministic sharded writes: Beam and in-memory writers give the same bytes."""

import filecmp
import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.io import sharded_io
from pipelines.io import sharded_io_beam
from tests.pipelines import files

RECORDS = [(f"k{i % 37}", f"k{i % 37}\tvalue-{i}") for i in range(500)]


def _beam_write(prefix, extra=()):
  options = PipelineOptions(["--runner=FnApiRunner", *extra])
  with TestPipeline(options=options) as p:
    _ = (p | beam.Create(list(reversed(RECORDS)))
         | sharded_io_beam.WriteSortedShards(prefix, ".tsv", num_shards=4, header="k\tv"))


def test_beam_and_local_writers_agree(tmp_path):
  _beam_write(str(tmp_path / "beam" / "out"))
  sharded_io.write_sorted_shards_local(RECORDS, str(tmp_path / "local" / "out"), ".tsv", 4,
                                       header="k\tv")
  names = sorted(os.listdir(tmp_path / "beam"))
  assert names == ["_MANIFEST-out.json"] + [f"out-0000{i}-of-00004.tsv" for i in range(4)]
  assert names == sorted(os.listdir(tmp_path / "local"))
  _, mismatch, errors = filecmp.cmpfiles(tmp_path / "beam", tmp_path / "local", names, shallow=False)
  assert not mismatch and not errors
  lines = files.read_shards(str(tmp_path / "beam" / "out"), ".tsv")
  assert len(lines) == 500 + 4 and lines.count("k\tv") == 4


def test_two_workers_same_bytes(tmp_path):
  _beam_write(str(tmp_path / "one" / "out"))
  _beam_write(str(tmp_path / "two" / "out"),
              ["--direct_num_workers=2", "--direct_running_mode=multi_threading"])
  names = sorted(os.listdir(tmp_path / "one"))
  _, mismatch, errors = filecmp.cmpfiles(tmp_path / "one", tmp_path / "two", names, shallow=False)
  assert not mismatch and not errors


def test_tfrecord_shards_read_back_with_tensorflow(tmp_path):
  payloads = [(f"{i:03d}", bytes([i]) * i) for i in range(1, 40)]
  paths = sharded_io.write_sorted_shards_local(payloads, str(tmp_path / "r"), ".tfrecord", 3,
                                               record_format=sharded_io.TFRECORD)
  got = sorted(files.read_tfrecords(paths))
  assert got == sorted(p for _, p in payloads)


def test_rewrite_with_fewer_shards_removes_old_ones(tmp_path):
  prefix = str(tmp_path / "o")
  sharded_io.write_sorted_shards_local(RECORDS, prefix, ".tsv", 4)
  sharded_io.write_sorted_shards_local(RECORDS, prefix, ".tsv", 2)
  assert sorted(os.listdir(tmp_path)) == ["_MANIFEST-o.json", "o-00000-of-00002.tsv",
                                          "o-00001-of-00002.tsv"]


def test_shard_writers_racing_to_create_the_folder(tmp_path, monkeypatch):
  # Another worker creates the folder after this one checked for it: the shard
  # is still written (the multi-process DirectRunner hit this race in CI).
  target = tmp_path / "new" / "out-00000-of-00001.tsv"
  real_exists = sharded_io.FileSystems.exists

  def exists_then_raced(path):
    if path == str(target.parent) and not target.parent.exists():
      os.makedirs(path)  # the other worker wins
      return False
    return real_exists(path)

  monkeypatch.setattr(sharded_io.FileSystems, "exists", staticmethod(exists_then_raced))
  sharded_io.atomic_write(str(target), b"row\n")
  assert target.read_bytes() == b"row\n"
  assert os.listdir(target.parent) == [target.name]


def test_folder_that_cannot_be_created_is_an_error(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("not a folder")
  with pytest.raises(IOError, match="sub"):
    sharded_io.ensure_dir(str(blocker / "sub"))
