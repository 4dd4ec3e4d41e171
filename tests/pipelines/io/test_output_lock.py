"""`pipelines/io/output_lock.py`: one writer per output folder; a dead writer's lock and
temporaries are cleared."""

import json
import os
import subprocess
import sys
import tempfile

import pytest

from launch import main as gcml
from pipelines.errors import InputError
from pipelines.io import output_lock


def test_output_dir_of_a_command_line():
  assert output_lock.output_dir_of(["--x=1", "--output_dir=out"]) == "out"
  assert output_lock.output_dir_of(["--output_dir", "out", "--y"]) == "out"
  assert output_lock.output_dir_of(["--output_dir="]) is None
  assert output_lock.output_dir_of(["--output_dir"]) is None
  assert output_lock.output_dir_of(["--output_dirs=x"]) is None


def test_lock_path_and_held_without_a_folder(tmp_path):
  assert output_lock.lock_path("gs://b/out") == "gs://b/out/_LOCK"
  with output_lock.held(None, "test"):
    pass  # nothing to lock
  with output_lock.held(str(tmp_path / "o"), "test"):
    assert output_lock.held_here(str(tmp_path / "o" / "_LOCK"))
  assert not output_lock.held_here(str(tmp_path / "o" / "_LOCK"))


def test_a_folder_under_a_file_is_one_line(tmp_path):
  (tmp_path / "file").write_text("x")
  with pytest.raises(InputError, match=r"^--output_dir=.*/file/o: cannot create it "
                                       r"\(Not a directory\)$"):
    output_lock.acquire(str(tmp_path / "file" / "o"), "test")


def test_second_writer_is_refused_while_the_first_lives(tmp_path, capsys):
  out = tmp_path / "out"
  out.mkdir()
  holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
  try:
    (out / "_LOCK").write_text(json.dumps({"host": output_lock.socket.gethostname(),
                                           "pid": holder.pid, "command": "gcml cluster"}))
    code = gcml.main(["cluster", "--edges=none.csv", f"--output_dir={out}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "is being written by another run (gcml cluster, host" in err and str(holder.pid) in err
  finally:
    holder.kill()
    holder.wait()


def test_dead_writers_lock_and_temporaries_are_cleared(tmp_path):
  out = tmp_path / "out"
  (out / "rejected").mkdir(parents=True)
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  (out / "_LOCK").write_text(json.dumps({"host": output_lock.socket.gethostname(),
                                         "pid": dead.pid, "command": "gcml examples"}))
  (out / f".tmp-{'a' * 32}-triplets-00000-of-00008.tfrecord").write_bytes(b"x" * 100)
  (out / "rejected" / f".tmp-{'b' * 32}-examples-00000-of-00001.tsv").write_bytes(b"x")
  (out / ".tmp-not-ours").write_bytes(b"a user's file")
  with output_lock.held(str(out), "test"):
    assert sorted(os.listdir(out)) == [".tmp-not-ours", "_LOCK", "rejected"]
    assert not os.listdir(out / "rejected")
    with output_lock.held(str(out), "nested"):  # re-entrant in one process
      pass
    assert (out / "_LOCK").exists()
  assert not (out / "_LOCK").exists()


def _recorded(out) -> list:
  with open(out / "_LOCK", encoding="utf-8") as f:
    return json.load(f).get("beam_temp_dirs", [])


def test_a_beam_temp_folder_is_recorded_while_it_exists(tmp_path, monkeypatch):
  monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
  (tmp_path / "tmp").mkdir()
  with output_lock.held(str(tmp_path / "out"), "gcml test"):
    with output_lock.beam_temp_folder() as folder:
      assert _recorded(tmp_path / "out") == [folder] and os.path.isdir(folder)
      assert os.path.dirname(folder) == str(tmp_path / "tmp")
      (tmp_path / "tmp" / folder / "beam-pipeline-temp1").mkdir()
    assert not os.path.exists(folder) and _recorded(tmp_path / "out") == []


def test_taking_a_dead_lock_deletes_its_recorded_beam_temp_folders_and_nothing_else(
    tmp_path, monkeypatch):
  root, out = tmp_path / "tmp", tmp_path / "out"
  out.mkdir()
  monkeypatch.setattr(tempfile, "tempdir", str(root))
  ours = root / f"{output_lock.BEAM_TEMP_PREFIX}{'c' * 32}"
  (ours / "beam-pipeline-temp1").mkdir(parents=True)
  # Recorded paths that are not a gcml Beam temp folder right under the temp root stay.
  kept = [root / f"{output_lock.BEAM_TEMP_PREFIX}{'d' * 32}-x", root / "users-folder",
          tmp_path / "elsewhere" / f"{output_lock.BEAM_TEMP_PREFIX}{'e' * 32}"]
  for folder in kept:
    folder.mkdir(parents=True)
  (root / f"{output_lock.BEAM_TEMP_PREFIX}{'f' * 32}").write_text("a file")
  (root / f"{output_lock.BEAM_TEMP_PREFIX}{'0' * 32}").symlink_to(root / "users-folder")
  dead = subprocess.Popen([sys.executable, "-c", "pass"])
  dead.wait()
  recorded = [str(p) for p in [ours, *kept]] + [
      str(root / f"{output_lock.BEAM_TEMP_PREFIX}{c * 32}") for c in "f0"] + [
          f"{output_lock.BEAM_TEMP_PREFIX}{'1' * 32}", 7]
  (out / "_LOCK").write_text(json.dumps({"host": output_lock.socket.gethostname(),
                                         "pid": dead.pid, "command": "gcml examples",
                                         "beam_temp_dirs": recorded}))
  with output_lock.held(str(out), "gcml test"):
    assert not ours.exists() and all(folder.is_dir() for folder in kept)
    assert len(os.listdir(root)) == 4
