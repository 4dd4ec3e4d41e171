"""Shared pytest setup.

* Loads gcml's TensorFlow settings (`model/__init__.py`) before any test
  imports TensorFlow.
* Marks absl flags as parsed, so `tf.test.TestCase` helpers such as
  `create_tempdir` work under pytest (which does not run `absl.app`).
"""

from absl import flags

import model  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)

if not flags.FLAGS.is_parsed():
  flags.FLAGS.mark_as_parsed()
