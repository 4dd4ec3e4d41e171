"""`pipelines/errors.py`: InputError, the user's error that `gcml` prints as one line."""

import pytest

from launch import main as gcml
from pipelines.errors import InputError


def test_input_error_is_not_a_value_error():
  # A ValueError from a bug must not be reported as the user's mistake (and the reverse).
  assert issubclass(InputError, Exception) and not issubclass(InputError, ValueError)
  with pytest.raises(InputError, match="^--edges: no file matches: x$"):
    raise InputError("--edges: no file matches: x")


def test_gcml_prints_an_input_error_as_one_line(tmp_path, capsys):
  assert gcml.main(["synth", f"--output_dir={tmp_path}", "--num_items=3"]) == 2
  assert capsys.readouterr().err == "gcml synth: error: --num_items must be at least 20, got 3\n"
