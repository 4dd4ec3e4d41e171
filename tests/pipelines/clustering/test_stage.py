"""`gcml cluster` end to end: both engines, byte-identical outputs, summary, errors."""

import glob
import json
import os
import subprocess
import sys

import pytest

from launch import main as gcml
from pipelines.io import sharded_io
from pipelines import synth

FLAGS = ["--min_weight=1.0", "--seed=3", "--num_shards=2", "--edge_format=csv"]


@pytest.fixture(name="world", scope="module")
def _world(tmp_path_factory):
  out = tmp_path_factory.mktemp("world")
  synth.generate(synth.SynthConfig(num_items=500, seed=1, processes=1), str(out),
                 progress=lambda *_: None)
  with open(out / "edges-00000-of-00001.csv", "a", encoding="utf-8") as f:
    f.write("not,a,number\nself,self,1\nzz_b,zz_a,2\nzz_a,zz_b,3\n")  # + a reversed duplicate
  return out


def _rows(prefix):
  """Data lines of every shard (each shard starts with a header)."""
  return [line.split("\t") for path in sorted(glob.glob(sharded_io.shard_glob(str(prefix), ".tsv")))
          for line in open(path, encoding="utf-8").read().splitlines()[1:]]


def _run(world, out, engine, *extra):
  code = gcml.main(["cluster", f"--edges={world}/edges-*", f"--output_dir={out}",
                    f"--engine={engine}", *FLAGS, *extra])
  assert code == 0
  return {os.path.relpath(os.path.join(d, name), out): open(os.path.join(d, name), "rb").read()
          for d, _, names in os.walk(out) for name in names}


@pytest.fixture(name="local_out", scope="module")
def _local_out(world, tmp_path_factory):
  out = tmp_path_factory.mktemp("local")
  return out, _run(world, out, "local")


def test_local_outputs_and_summary(local_out):
  out, outputs = local_out
  assert sorted(outputs) == [
      "_MANIFEST-assignments.json", "_MANIFEST-cluster_sizes.json", "_MANIFEST-clusters.json",
      "assignments-00000-of-00002.tsv", "assignments-00001-of-00002.tsv",
      "cluster_sizes-00000-of-00001.tsv", "cluster_sizes.png", "clusters-00000-of-00002.tsv",
      "clusters-00001-of-00002.tsv", "rejected/_MANIFEST-cluster.json",
      "rejected/cluster-00000-of-00001.tsv", "summary.json"]
  section = json.loads(outputs["summary.json"])["cluster"]
  assert section["rejected/weight_not_a_number"] == 1 and section["rejected/self_loop"] == 1
  assert section["edges/under_min_weight"] > 0 and section["edges/duplicates_combined"] > 0
  levels = section["level_stats"]
  assert [x["level"] for x in levels] == [0, 1, 2]
  assert levels[0]["clusters"] > levels[1]["clusters"] > levels[2]["clusters"]
  assert all(x["size"]["min"] <= x["size"]["p50"] <= x["size"]["p90"] <= x["size"]["p99"]
             <= x["size"]["max"] for x in levels)
  rows = _rows(out / "assignments")
  assert len(rows) == section["items"] == len({r[0] for r in rows})
  assert outputs["assignments-00000-of-00002.tsv"].startswith(b"id\tl0\tl1\tl2\n")
  by_id = {r[0]: r[1:] for r in rows}
  assert by_id["zz_a"] == by_id["zz_b"] == ["l0-zz_a", "l1-zz_a", "l2-zz_a"]
  clusters = _rows(out / "clusters")
  assert len(clusters) == sum(x["clusters"] for x in levels)
  sizes = {(int(level), cluster): int(size) for level, cluster, _, size in clusters}
  for r in rows:  # every parent named in clusters-* is the item's next-level cluster
    assert all((level, r[1 + level]) in sizes for level in range(3))
  assert all(parent == "" for level, _, parent, _ in clusters if level == "2")
  assert outputs["cluster_sizes.png"].startswith(b"\x89PNG")


@pytest.mark.slow
def test_beam_output_equals_local_output(world, local_out, tmp_path):
  """Two Beam worker processes, the default flags: the local engine's bytes."""
  outputs = _run(world, tmp_path / "beam", "beam", "--partitions=3", "--direct_num_workers=2",
                 "--direct_running_mode=multi_processing")
  assert outputs == local_out[1]


@pytest.mark.slow
def test_beam_equals_local_with_the_new_flags(world, tmp_path):
  """Every edge, derived weights and a searched L0 round, one Beam worker: still the same bytes.

  (The default flags on one worker run the same transforms as on two: that run was dropped.)
  """
  flags = ["--cluster_all_edges", "--similarity=adamic_adar", "--target_l0_size=6",
           "--max_first_round=3"]
  local = _run(world, tmp_path / "local", "local", *flags)
  section = json.loads(local["summary.json"])["cluster"]
  assert section["split"]["clustered_edges"] == "all" and section["l0_round"] in (2, 3)
  assert _run(world, tmp_path / "beam", "beam", "--partitions=3", "--runner=FnApiRunner",
              *flags) == local


def test_train_train_tables_hold_no_test_item(local_out):
  from pipelines import split  # pylint: disable=import-outside-toplevel
  out, outputs = local_out
  section = json.loads(outputs["summary.json"])["cluster"]
  assert section["edges/touching_test"] > 0
  assert not any(split.is_test(r[0]) for r in _rows(out / "assignments"))


def test_rerun_with_fewer_shards_replaces_tables(world, tmp_path):
  _run(world, tmp_path, "local")
  outputs = _run(world, tmp_path, "local", "--num_shards=1")
  assert "assignments-00000-of-00002.tsv" not in outputs
  assert "assignments-00000-of-00001.tsv" in outputs


@pytest.mark.parametrize("args,message", [
    (["--edges={d}/none-*.csv"], "--edges: no file matches"),
    (["--edges={d}/edges-*.csv", "--levels=0"], "--levels must be between 1 and 16"),
    (["--edges={d}/edges-*.csv", "--min_weight=-1"], "--min_weight must be a finite number"),
    (["--edges={d}/edges-*.csv", "--max_cluster_size=-2"], "--max_cluster_size must be >= 0"),
])
def test_user_errors_are_one_line(world, tmp_path, capsys, args, message):
  code = gcml.main(["cluster", f"--output_dir={tmp_path}", "--engine=local"]
                   + [a.format(d=world) for a in args])
  err = capsys.readouterr().err.strip()
  assert code == 2 and message in err and "\n" not in err


def test_error_as_a_command_has_no_traceback(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "launch.cluster", f"--edges={tmp_path}/x.csv",
                         f"--output_dir={tmp_path}/o"], capture_output=True, text=True,
                        check=False, timeout=120)
  assert proc.returncode == 2 and "Traceback" not in proc.stderr
  assert f"--edges: no such file: {tmp_path}/x.csv" in proc.stderr


def test_dataflow_job_graph_builds_offline(world, tmp_path):
  # apache-beam[gcp] is in the dev extra, so CI always builds this job graph. Two levels and
  # two pointer-jumping passes a round hold every transform of the graph (the default 3 levels
  # of ~15 passes repeat them: 3.4 CPU-s more).
  code = gcml.main(["cluster", f"--edges={world}/edges-*.csv", f"--output_dir={tmp_path}/o",
                    "--levels=2", "--jump_passes=2",
                    "--runner=DataflowRunner", "--dry_run=True", "--project=gcml-test",
                    "--region=us-central1", "--temp_location=gs://gcml-test/tmp",
                    "--sdk_location=container"])
  assert code == 0


def test_gzip_input_gives_the_same_tables(world, local_out, tmp_path):
  import gzip  # pylint: disable=import-outside-toplevel
  from pipelines.clustering import stage as cluster  # pylint: disable=import-outside-toplevel
  src = world / "edges-00000-of-00001.csv"
  packed = tmp_path / "in" / "edges-0.csv.gz"
  packed.parent.mkdir()
  packed.write_bytes(gzip.compress(src.read_bytes()))
  assert cluster.content_bound_sizes([str(packed), str(src)], [10, 10]) == [640, 10]
  outputs = _run(packed.parent, tmp_path / "out", "local")
  assert ({k: v for k, v in outputs.items() if k != "summary.json"} ==
          {k: v for k, v in local_out[1].items() if k != "summary.json"})
