"""Shared pytest setup.

* Loads gcml's TensorFlow settings (`model/__init__.py`) before any test
  imports TensorFlow, and hooks its import as `gcml` does (`launch/tf_startup.py`):
  autograph's generated files go to a folder of the test process, removed at exit
  (or by the next start-up after a kill). At the session's end, the folders of the
  child processes the tests killed are removed too.
* Marks absl flags as parsed, so `tf.test.TestCase` helpers such as
  `create_tempdir` work under pytest (which does not run `absl.app`).
* Restores the root logger after each test (`gcml.main` reconfigures it).
* Runs the files holding `@pytest.mark.slow` tests first (most slow tests first):
  with `make test`'s `--dist loadfile --no-loadscope-reorder`, xdist hands out
  files in this order, so a long file never starts last while the other
  worker runs out of work (longest first keeps the 2 workers finishing together).
"""

import logging
import tempfile

import pytest
from absl import flags

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
from launch import tf_startup

tf_startup.install()

if not flags.FLAGS.is_parsed():
  flags.FLAGS.mark_as_parsed()


def pytest_sessionfinish():
  """Removes the autograph folders of killed children (live processes' stay locked)."""
  tf_startup.remove_left_autograph_folders(tempfile.gettempdir())


def pytest_collection_modifyitems(items):
  """Orders the files by their number of slow tests, most first (stable otherwise)."""
  slow = {}
  for item in items:
    slow[item.path] = slow.get(item.path, 0) + (item.get_closest_marker("slow") is not None)
  items.sort(key=lambda item: -slow[item.path])


@pytest.fixture(autouse=True)
def _root_logging_restored():
  """Removes the console handlers a test left on the root logger.

  `gcml.main` calls `logs.setup`, whose `logging.basicConfig(force=True)` binds
  a `StreamHandler` to the `sys.stderr` of the moment: under pytest's capture, a
  stream that is closed after the test. Left in place, a later test's log record
  (for example TensorFlow's checkpoint warnings at garbage collection) hits the
  closed stream and prints a logging-error traceback into the test output.
  pytest's own capture handlers are left to pytest.
  """
  root = logging.getLogger()
  before, level = set(root.handlers), root.level
  yield
  for handler in root.handlers[:]:
    if handler not in before and type(handler) is logging.StreamHandler:  # pylint: disable=unidiomatic-typecheck
      root.removeHandler(handler)
  root.setLevel(level)
