"""Shard sets as units: manifests written last, readers refuse partial or mixed sets."""

import json
import os
import shutil

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline

from launch import main as gcml
from pipelines.io import inputs, output_lock, shard_sets, sharded_io
from pipelines.io import sharded_io_beam
from pipelines import synth
from pipelines.errors import InputError
from tests.pipelines import files

RECORDS = [(f"k{i:03d}", f"k{i:03d}\tvalue-{i}") for i in range(200)]


def _beam_write(prefix, num_shards):
  with TestPipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as p:
    _ = (p | beam.Create(RECORDS)
         | sharded_io_beam.WriteSortedShards(prefix, ".tsv", num_shards, header="k\tv"))


def test_manifest_lists_every_shard_and_is_deterministic(tmp_path):
  prefix = str(tmp_path / "out")
  paths = sharded_io.write_sorted_shards_local(RECORDS, prefix, ".tsv", 3, header="k\tv")
  first = (tmp_path / "_MANIFEST-out.json").read_bytes()
  body = json.loads(first)
  assert body["num_shards"] == 3 and body["name"] == "out" and body["suffix"] == ".tsv"
  assert [f["name"] for f in body["files"]] == [os.path.basename(p) for p in paths]
  for entry, path in zip(body["files"], paths):
    data = open(path, "rb").read()
    assert entry["bytes"] == len(data) and entry["crc32c"] == shard_sets.crc32c_hex(data)
  sharded_io.write_sorted_shards_local(RECORDS, prefix, ".tsv", 3, header="k\tv")
  assert (tmp_path / "_MANIFEST-out.json").read_bytes() == first  # no time, host or pid


def test_beam_rerun_with_fewer_shards_replaces_the_set(tmp_path):
  # Reproducer: `export --num_shards=4` then `--num_shards=2` into one directory.
  prefix = str(tmp_path / "emb" / "related")
  _beam_write(prefix, 4)
  _beam_write(prefix, 2)
  assert sorted(os.listdir(tmp_path / "emb")) == [
      "_MANIFEST-related.json", "related-00000-of-00002.tsv", "related-00001-of-00002.tsv"]
  sharded_io.write_sorted_shards_local(RECORDS, str(tmp_path / "local" / "related"), ".tsv", 2,
                                       header="k\tv")
  assert ((tmp_path / "emb" / "_MANIFEST-related.json").read_bytes()
          == (tmp_path / "local" / "_MANIFEST-related.json").read_bytes())


def test_writers_remove_stale_temporaries(tmp_path):
  stale = tmp_path / f".tmp-{'c' * 32}-out-00001-of-00004.tsv"
  stale.write_bytes(b"half a shard")
  sharded_io.write_sorted_shards_local(RECORDS, str(tmp_path / "out"), ".tsv", 2)
  assert not stale.exists()


@pytest.fixture(name="shards")
def _shards(tmp_path):
  sharded_io.write_sorted_shards_local(RECORDS, str(tmp_path / "out"), ".tsv", 4, header="k\tv")
  return tmp_path


def _check(directory, require=False):
  return inputs.expand(str(directory / "out-*.tsv"), "--x", require_manifest=require)


def test_whole_set_passes_and_manifest_is_not_matched(shards):
  assert [os.path.basename(p) for p in _check(shards, require=True)] == [
      f"out-0000{i}-of-00004.tsv" for i in range(4)]
  assert not any("_MANIFEST" in p for p in inputs.expand(str(shards / "*"), "--x"))


@pytest.mark.parametrize("damage,message", [
    (lambda d: os.remove(d / "out-00002-of-00004.tsv"),
     "partial shard set: out-00002-of-00004.tsv (listed in"),
    (lambda d: shutil.copy(d / "out-00000-of-00004.tsv", d / "out-00000-of-00002.tsv"),
     "out-00000-of-00002.tsv is not part of the set in"),
    (lambda d: open(d / "out-00001-of-00004.tsv", "ab").write(b"x\ty\n"),
     "out-00001-of-00004.tsv has"),
    (lambda d: (d / "out-00003-of-00004.tsv").write_bytes(
        (d / "out-00003-of-00004.tsv").read_bytes().replace(b"value", b"VALUE")),
     "does not match the checksum in its manifest"),
    (lambda d: (d / "_MANIFEST-out.json").write_text("{"), "unreadable manifest"),
])
def test_partial_mixed_or_damaged_sets_are_refused(shards, damage, message):
  damage(shards)
  with pytest.raises(InputError, match="^--x: ") as e:
    _check(shards)
  assert message in str(e.value) and "\n" not in str(e.value)


def test_set_without_manifest(shards):
  os.remove(shards / "_MANIFEST-out.json")  # a run killed before its manifest
  with pytest.raises(InputError, match="no manifest"):
    _check(shards, require=True)
  assert len(_check(shards)) == 4  # user inputs have none and keep working
  files.write_text(str(shards / "_LOCK"), ['{"host": "h", "pid": 1}'])  # a killed gcml stage
  with pytest.raises(InputError, match="no manifest, and .*_LOCK is there: the gcml run"):
    _check(shards)
  os.remove(shards / "_LOCK")
  with output_lock.held(str(shards), "gcml validate"):  # a stage whose inputs lie in its output
    assert len(_check(shards)) == 4
  os.remove(shards / "out-00001-of-00004.tsv")
  with pytest.raises(InputError, match="partial shard set: 3 of 4 shards"):
    _check(shards)
  one = str(shards / "out-00000-of-00004.tsv")
  assert inputs.expand(one, "--x") == [one]  # one file named on purpose
  files.write_text(str(shards / "out-00000-of-00001.tsv"), ["k\tv"])
  with pytest.raises(InputError, match="files of 2 shard sets"):
    _check(shards)


@pytest.fixture(name="clustered", scope="module")
def _clustered(tmp_path_factory):
  root = tmp_path_factory.mktemp("killed")
  synth.generate(synth.SynthConfig(num_items=300, seed=2, processes=1), str(root / "data"),
                 progress=lambda *_: None)
  assert gcml.main(["cluster", f"--edges={root}/data/edges-*.csv", f"--output_dir={root}/c",
                    "--engine=local", "--num_shards=4"]) == 0
  return root


def _examples(root, clusters, capsys):
  code = gcml.main(["examples", "--kind=labels", f"--features={root}/data/features-*.tfrecord",
                    f"--clusters={clusters}", f"--output_dir={root}/ex", "--runner=FnApiRunner"])
  return code, capsys.readouterr().err.strip()


def test_examples_refuses_a_killed_cluster_output(clustered, tmp_path, capsys):
  # Reproducer: a killed `cluster` leaves 2 of its 4 assignment shards.
  killed = tmp_path / "c"
  shutil.copytree(clustered / "c", killed)
  for name in ("_MANIFEST-assignments.json", "assignments-00002-of-00004.tsv",
               "assignments-00003-of-00004.tsv"):
    os.remove(killed / name)
  code, err = _examples(clustered, killed, capsys)
  assert code == 2 and "\n" not in err
  assert err.startswith("gcml examples: error: --clusters: ") and "no manifest" in err
  os.remove(killed / "assignments-00001-of-00004.tsv")
  shutil.copy(clustered / "c" / "_MANIFEST-assignments.json", killed)  # manifest, shards gone
  code, err = _examples(clustered, killed, capsys)
  assert code == 2 and "partial shard set: assignments-00001-of-00004.tsv" in err


def test_cluster_rerun_into_one_directory_leaves_one_set(clustered, capsys):
  out = clustered / "c2"
  for shards in (4, 2):
    assert gcml.main(["cluster", f"--edges={clustered}/data/edges-*.csv", f"--output_dir={out}",
                      "--engine=local", f"--num_shards={shards}"]) == 0
  names = sorted(n for n in os.listdir(out) if n.startswith("assignments"))
  assert names == ["assignments-00000-of-00002.tsv", "assignments-00001-of-00002.tsv"]
  listed = json.loads((out / "_MANIFEST-assignments.json").read_text())["files"]
  assert [f["name"] for f in listed] == names
  code, err = _examples(clustered, out, capsys)
  assert code == 0, err


def test_evaluate_refuses_mixed_or_unfinished_embeddings(clustered, tmp_path, capsys):
  # Reproducer: export --num_shards=4 then --num_shards=2 into one directory left both
  # sets (the Beam writer did not clear), and evaluate scored the mix.
  emb = tmp_path / "emb"
  records = [(f"v{i}", b"x") for i in range(50)]
  sharded_io.write_sorted_shards_local(records, str(emb / "embeddings"), ".tfrecord", 4,
                                       sharded_io.TFRECORD)
  stale = {n: (emb / n).read_bytes() for n in os.listdir(emb) if "-of-00004" in n}
  sharded_io.write_sorted_shards_local(records, str(emb / "embeddings"), ".tfrecord", 2,
                                       sharded_io.TFRECORD)
  for name, data in stale.items():
    (emb / name).write_bytes(data)
  args = ["evaluate", f"--embeddings={emb}/embeddings-*.tfrecord",
          f"--edges={clustered}/data/edges-*.csv",
          f"--features={clustered}/data/features-*.tfrecord", f"--output_dir={tmp_path}/ev"]
  assert gcml.main(args) == 2
  err = capsys.readouterr().err.strip()
  assert "\n" not in err and "embeddings-00000-of-00004.tfrecord is not part of the set" in err
  for name in stale:
    os.remove(emb / name)
  os.remove(emb / "_MANIFEST-embeddings.json")  # an export killed before its manifest
  assert gcml.main(args) == 2
  assert "no manifest" in capsys.readouterr().err


def test_a_rerun_that_fails_half_way_leaves_no_manifest(tmp_path, monkeypatch):
  prefix = str(tmp_path / "out")
  _beam_write(prefix, 4)
  real = sharded_io.atomic_write

  def fail_on_third_shard(path, data):
    if path.endswith("out-00002-of-00004.tsv"):
      raise OSError("disk gone")
    real(path, data)

  monkeypatch.setattr(sharded_io, "atomic_write", fail_on_third_shard)
  with pytest.raises(Exception, match="disk gone"):
    _beam_write(prefix, 4)
  assert not (tmp_path / "_MANIFEST-out.json").exists()  # the old one no longer vouches
  with pytest.raises(InputError, match="no manifest"):
    _check(tmp_path, require=True)
