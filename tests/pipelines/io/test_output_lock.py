"""`pipelines/io/output_lock.py`: one writer per output folder; a dead writer's lock and
temporaries are cleared."""

import json
import os
import subprocess
import sys

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
