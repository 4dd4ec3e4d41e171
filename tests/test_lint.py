"""pyflakes over the source and test trees: no unused import or name, no undefined name.

pyflakes comes with the dev extra, which `make test` installs (its venv is
reinstalled when setup.py changes), so the test fails, not skips, where it is
missing. Each warning is reported as `file:line: message`. The one exemption
is an unused import marked `# noqa: F401` on its (first) line: an import kept
for its side effect (`import model` sets TF_USE_LEGACY_KERAS before TensorFlow
is imported) or a re-export.
"""

import ast
import importlib
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
TREES = ("pipelines", "model", "launch", "tests")
_NOQA_F401 = re.compile(r"#\s*noqa:[\w\s,]*\bF401\b")


def _pyflakes():
  """pyflakes's `checker` and `messages` modules; a one-line failure when it is missing."""
  try:
    return (importlib.import_module("pyflakes.checker"),
            importlib.import_module("pyflakes.messages"))
  except ModuleNotFoundError:
    pytest.fail("pyflakes is not installed: it comes with the dev extra "
                "(make install, or pip install -c constraints.txt -e '.[dev]')", pytrace=False)


def lint_warnings(path: pathlib.Path, name: str) -> list[str]:
  """pyflakes's warnings on one Python file, less the exempt ones.

  Args:
    path: the file.
    name: how the warnings name it (its path from the repository root).

  Returns:
    `name:line: message` for each warning, in line order.
  """
  checker, messages = _pyflakes()
  source = path.read_text(encoding="utf-8")
  try:
    tree = ast.parse(source, filename=name)
  except SyntaxError as e:
    return [f"{name}:{e.lineno}: syntax error: {e.msg}"]
  lines = source.splitlines()
  found = sorted(checker.Checker(tree, filename=name).messages,
                 key=lambda m: (m.lineno, m.col))
  return [f"{name}:{m.lineno}: {m.message % m.message_args}" for m in found
          if not (isinstance(m, messages.UnusedImport)
                  and _NOQA_F401.search(lines[m.lineno - 1]))]


def test_lint_warnings_name_file_line_and_message_and_honour_only_noqa_f401(tmp_path):
  (tmp_path / "m.py").write_text(
      "import os\n"
      "import model  # noqa: F401  (side effect)\n"
      "from a import (b,  # noqa: E501, F401\n"
      "               c)\n"
      "import json  # noqa: E501\n"
      "\n"
      "def f():\n"
      "  unused = 1  # noqa: F401\n"
      "  return undefined_name\n")
  assert lint_warnings(tmp_path / "m.py", "pkg/m.py") == [
      "pkg/m.py:1: 'os' imported but unused",
      "pkg/m.py:5: 'json' imported but unused",
      "pkg/m.py:8: local variable 'unused' is assigned to but never used",
      "pkg/m.py:9: undefined name 'undefined_name'",
  ]
  (tmp_path / "broken.py").write_text("def f(:\n")
  [warning] = lint_warnings(tmp_path / "broken.py", "broken.py")
  assert warning.startswith("broken.py:1: syntax error: ")


def test_the_trees_have_no_pyflakes_warnings():
  warnings = [warning for tree in TREES for path in sorted((ROOT / tree).rglob("*.py"))
              for warning in lint_warnings(path, path.relative_to(ROOT).as_posix())]
  assert not warnings, "pyflakes:\n" + "\n".join(warnings)
