"""docs/architecture.md matches the tree: a row per module, a module per row."""

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("pipelines", "model", "launch")
# A backticked path from the repository root: `pipelines/io/edges_beam.py` or `launch/vertex_ai/`.
_PATH = re.compile(r"`((?:%s)/[\w/]*(?:\.py|/))`" % "|".join(PACKAGES))


def _named_paths(text: str) -> set[str]:
  return set(_PATH.findall(text))


def _holds_code(path: pathlib.Path) -> bool:
  """Whether a module defines anything (an `__init__.py` of imports and a docstring does not)."""
  tree = ast.parse(path.read_text())
  return any(not isinstance(node, (ast.Import, ast.ImportFrom, ast.Expr)) for node in tree.body)


def _modules(root: pathlib.Path) -> set[str]:
  found = set()
  for package in PACKAGES:
    for path in (root / package).rglob("*.py"):
      if path.name != "__init__.py" or _holds_code(path):
        found.add(path.relative_to(root).as_posix())
  return found


def test_named_paths_reads_backticked_paths_only():
  text = "| `pipelines/io/edges.py`, `model/losses/` | `edges.py` and pipelines/split.py |"
  assert _named_paths(text) == {"pipelines/io/edges.py", "model/losses/"}


def test_modules_skips_init_files_without_code(tmp_path):
  for name, text in {"pipelines/__init__.py": '"""Doc."""\nimport os\n',
                     "pipelines/a.py": "X = 1\n", "model/__init__.py": "def f():\n  pass\n",
                     "launch/b/c.py": ""}.items():
    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / name).write_text(text)
  assert _modules(tmp_path) == {"pipelines/a.py", "model/__init__.py", "launch/b/c.py"}


@pytest.fixture(name="doc_paths", scope="module")
def fixture_doc_paths():
  return _named_paths((ROOT / "docs" / "architecture.md").read_text())


def test_every_module_has_a_row(doc_paths):
  missing = sorted(_modules(ROOT) - doc_paths)
  assert not missing, f"modules without a row in docs/architecture.md: {missing}"


def test_every_row_names_a_module_that_exists(doc_paths):
  gone = sorted(path for path in doc_paths if not (ROOT / path).exists())
  assert not gone, f"docs/architecture.md names paths that do not exist: {gone}"
