"""`gcml validate` end to end: counts, rejected/, and one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from launch import main as gcml
from pipelines.io import tfrecord_frames
from tests.pipelines import files

RUNNER = ["--runner=FnApiRunner"]


@pytest.fixture(name="bad_world")
def _bad_world(tmp_path):
  edge_lines = ["src,dst,weight", "a,b,2", "b,a,5", "a,c,1", "c,z,1", "a,a,1", "a,b,x",
                "a,b,nan", "a,b,inf", "a,b,0", "a,b,-1", ",b,1", "a,b,1,2"]
  files.write_text(str(tmp_path / "in" / "edges-0.csv"), edge_lines[:7])
  files.write_text(str(tmp_path / "in" / "edges-1.csv"), edge_lines[7:])
  files.write_tfrecord(str(tmp_path / "in" / "features-0.tfrecord"), [
      files.item_record("a", rgb_dim=1024, audio_dim=128),
      files.item_record("b", rgb_dim=1024, audio_dim=128),
      files.item_record("b", rgb_dim=1024, audio_dim=128, value=3.0),
      files.item_record("c", rgb_dim=1000, audio_dim=128),
      files.item_record("d", rgb_dim=1024, audio_dim=128, value=float("nan")),
  ])
  files.write_damaged_tfrecord(str(tmp_path / "in" / "features-1.tfrecord"), [
      files.item_record(i, rgb_dim=1024, audio_dim=128) for i in ("e", "f", "g")],
                               bad_checksum=1)
  return tmp_path


def test_validate_counts_every_problem(bad_world):
  out = str(bad_world / "out")
  code = gcml.main(["validate", f"--edges={bad_world}/in/edges-*.csv",
                    f"--features={bad_world}/in/features-*", f"--output_dir={out}"] + RUNNER)
  assert code == 0
  with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
    section = json.load(f)["validate"]
  expected = {
      "edges/header_lines": 1, "edges/valid_records": 4, "edges/duplicates_combined": 1,
      "edges/unique_edges": 3, "features/valid_items": 4,
      "edges/endpoints_without_features": 2,  # c (bad features) and z (none)
      "rejected/self_loop": 1, "rejected/weight_not_a_number": 1, "rejected/weight_nan": 1,
      "rejected/weight_infinite": 1, "rejected/weight_zero": 1, "rejected/weight_negative": 1,
      "rejected/empty_id": 1, "rejected/wrong_column_count": 1, "rejected/duplicate_id": 1,
      "rejected/mean_rgb_wrong_length": 1, "rejected/mean_rgb_not_finite": 1,
      "rejected/tfrecord_bad_data_checksum": 1, "rejected/tfrecord_truncated": 1,
  }
  for key, value in expected.items():
    assert section.get(key) == value, key
  lines = files.read_shards(os.path.join(out, "rejected", "validate"), ".tsv")
  assert len(lines) == 13
  assert "validate\tself_loop\ta,a,1" in lines
  damaged = f"{bad_world}/in/features-1.tfrecord"
  frame = len(tfrecord_frames.tfrecord_frame(files.item_record("e", rgb_dim=1024, audio_dim=128)))
  assert any(line.startswith(f"validate\ttfrecord_bad_data_checksum\t{damaged} bad data "
                             f"checksum at byte {frame}: b64:") for line in lines)
  assert (f"validate\ttfrecord_truncated\t{damaged} truncated record at byte {3 * frame}: "
          "the rest of the file is not read") in lines
  assert all(line.split("\t")[0] == "validate" for line in lines)
  assert not [p for p in os.listdir(out) if p.startswith(".")]  # no temp or stats files left


@pytest.mark.parametrize("edges,features,message", [
    ("{d}/in/nothing-*.csv", "{d}/in/features-*", "--edges: no file matches: {d}/in/nothing-*.csv"),
    ("{d}/in/missing.csv", "{d}/in/features-*", "--edges: no such file: {d}/in/missing.csv"),
    ("{d}/in/edges-*.csv", "{d}/in/edges-0.csv", "{d}/in/edges-0.csv is not a TFRecord file"),
    ("{d}/in/sub", "{d}/in/features-*", "cannot read {d}/in/sub: IsADirectoryError"),
])
def test_validate_bad_paths_one_line(bad_world, capsys, edges, features, message):
  (bad_world / "in" / "sub").mkdir()
  d = str(bad_world)
  code = gcml.main(["validate", "--edge_format=csv", f"--edges={edges.format(d=d)}",
                    f"--features={features.format(d=d)}", f"--output_dir={d}/out"] + RUNNER)
  err = capsys.readouterr().err.strip()
  assert code == 2
  assert err.startswith("gcml validate: error: ") and message.format(d=d) in err
  assert "\n" not in err


def test_validate_error_has_no_traceback_as_a_command(bad_world):
  proc = subprocess.run([sys.executable, "-m", "launch.validate", f"--edges={bad_world}/x.csv",
                         f"--features={bad_world}/in/features-*", f"--output_dir={bad_world}/o"],
                        capture_output=True, text=True, check=False, timeout=120)
  assert proc.returncode == 2
  assert "Traceback" not in proc.stderr
  assert f"--edges: no such file: {bad_world}/x.csv" in proc.stderr


def test_dataflow_job_graph_builds_offline(bad_world):
  code = gcml.main(["validate", f"--edges={bad_world}/in/edges-*.csv",
                    f"--features={bad_world}/in/features-*", f"--output_dir={bad_world}/out",
                    "--runner=DataflowRunner", "--dry_run=True", "--project=gcml-test",
                    "--region=us-central1", "--temp_location=gs://gcml-test/tmp",
                    "--sdk_location=container"])
  assert code == 0
  assert not os.path.exists(os.path.join(bad_world, "out", "summary.json"))


def test_feature_magnitude_bound(tmp_path, capsys):
  files.write_text(str(tmp_path / "in" / "e.csv"), ["a,b,1"])
  files.write_tfrecord(str(tmp_path / "in" / "f.tfrecord"), [
      files.item_record("a"), files.item_record("huge", value=3e38)])
  args = ["validate", f"--edges={tmp_path}/in/e.csv", f"--features={tmp_path}/in/f.tfrecord",
          "--modalities=mean_rgb:4,mean_audio:2"] + RUNNER
  assert gcml.main(args + [f"--output_dir={tmp_path}/out"]) == 0
  with open(tmp_path / "out" / "summary.json", encoding="utf-8") as f:
    section = json.load(f)["validate"]
  assert section["rejected/mean_rgb_out_of_range"] == 1 and section["features/valid_items"] == 1
  lines = files.read_shards(str(tmp_path / "out" / "rejected" / "validate"), ".tsv")
  assert [line[:len("validate\tmean_rgb_out_of_range\tid=huge b64:")] for line in lines] == [
      "validate\tmean_rgb_out_of_range\tid=huge b64:"]
  assert gcml.main(args + [f"--output_dir={tmp_path}/wide", "--max_abs_feature=1e39"]) == 0
  with open(tmp_path / "wide" / "summary.json", encoding="utf-8") as f:
    assert json.load(f)["validate"]["features/valid_items"] == 2
  capsys.readouterr()
  assert gcml.main(args + [f"--output_dir={tmp_path}/bad", "--max_abs_feature=-1"]) == 2
  err = capsys.readouterr().err.strip()
  assert "--max_abs_feature must be a finite number > 0, got -1.0" in err and "\n" not in err
