"""`launch/main.py`: `gcml SUBCOMMAND`, user errors as one line with exit 2, the output lock."""

import os

from launch import main as gcml


def test_no_subcommand_prints_the_usage_and_exits_2(capsys):
  assert gcml.main([]) == 2
  out = capsys.readouterr().out
  assert out.startswith("usage: gcml <subcommand> [flags]\n\nsubcommands:\n  synth ")
  assert gcml.main(["help"]) == 0


def test_usage_names_every_subcommand_once():
  rows = gcml.USAGE.splitlines()[3:]
  assert [row.split()[0] for row in rows] == list(gcml.SUBCOMMANDS)
  assert "validate" in gcml.SUBCOMMANDS and "bench" in gcml.SUBCOMMANDS


def test_an_input_error_is_one_line_and_the_lock_is_released(tmp_path, capsys):
  out = tmp_path / "out"
  assert gcml.run_subcommand("synth", [f"--output_dir={out}", "--num_items=5"]) == 2
  assert capsys.readouterr().err == "gcml synth: error: --num_items must be at least 20, got 5\n"
  assert os.listdir(out) == []  # the lock (`_LOCK`) was taken and given back


def test_an_output_dir_under_a_file_is_one_line(tmp_path, capsys):
  (tmp_path / "file").write_text("x")
  assert gcml.main(["synth", f"--output_dir={tmp_path}/file/sub", "--num_items=30"]) == 2
  assert capsys.readouterr().err == (
      f"gcml synth: error: --output_dir={tmp_path}/file/sub: cannot create it (Not a directory)\n")


def test_a_subcommand_without_a_module_is_not_available(capsys):
  assert gcml.run_subcommand("no_such_command", []) == 2
  assert capsys.readouterr().err == "gcml no_such_command: not available in this version\n"
