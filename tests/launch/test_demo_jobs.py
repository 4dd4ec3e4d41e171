"""`gcml demo`'s runs: quiet logs (native output included) and runs in child processes."""

import os

import pytest

from launch import demo_jobs
from pipelines.errors import InputError


def _write_run(out_dir: str, item: str) -> str:
  """A run: prints (Python and native), writes a file named after its item, returns its pid."""
  print(f"python line of {item}")
  os.write(2, f"native line of {item}\n".encode())
  if item == "bad":
    raise InputError(f"--features: no file matches: {item}-*\nsecond line")
  with open(os.path.join(out_dir, item), "w", encoding="utf-8") as f:
    f.write(item)
  return f"{item} {os.getpid()}"


def test_quiet_sends_python_and_native_output_to_the_log(tmp_path, capfd):
  log = str(tmp_path / "logs" / "stage.log")
  with demo_jobs.quiet(log):
    _write_run(str(tmp_path), "a")
  with open(log, encoding="utf-8") as f:
    assert sorted(f.read().splitlines()) == ["native line of a", "python line of a"]
  captured = capfd.readouterr()
  assert "line of a" not in captured.out + captured.err


def test_one_job_runs_each_in_this_process_in_order(tmp_path):
  results = demo_jobs.run_each("stage", _write_run, str(tmp_path), ["b", "a"], 1,
                               str(tmp_path / "logs"))
  assert results == [f"b {os.getpid()}", f"a {os.getpid()}"]
  assert not os.path.exists(tmp_path / "logs")


def test_two_jobs_run_in_children_each_with_its_log(tmp_path):
  items = ["b", "a", "c"]
  results = demo_jobs.run_each("stage", _write_run, str(tmp_path), items, 2,
                               str(tmp_path / "logs"))
  assert [r.split()[0] for r in results] == items
  assert all(int(r.split()[1]) != os.getpid() for r in results)
  for item in items:
    assert (tmp_path / item).read_text() == item
    lines = (tmp_path / "logs" / f"stage-{item}.log").read_text().splitlines()
    assert sorted(lines) == [f"native line of {item}", f"python line of {item}"]


def test_a_failed_child_run_is_one_line_naming_it_and_its_log(tmp_path):
  log = tmp_path / "logs" / "stage-bad.log"
  with pytest.raises(InputError) as raised:
    demo_jobs.run_each("stage", _write_run, str(tmp_path), ["a", "bad"], 2,
                       str(tmp_path / "logs"))
  assert str(raised.value) == (f"stage bad failed: --features: no file matches: bad-* "
                               f"(log: {log})")
  assert "native line of bad" in log.read_text()
