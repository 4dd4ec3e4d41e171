"""TensorFlow's native start-up lines kept off the console.

TensorFlow 2.21's native libraries print through absl before absl's logging
is set up, so `TF_CPP_MIN_LOG_LEVEL` does not silence them: "All log messages
before absl::InitializeLog() ...", `cudart_stub` / `cpu_feature_guard` /
oneDNN info lines and, on a machine without a GPU, "failed call to cuInit"
(printed when the devices are first listed). `install()` (called by `gcml`)
wraps the first `import tensorflow` of the process: file descriptor 2 goes to
a temporary file while TensorFlow is imported and lists its devices, then the
known start-up lines go to the log at DEBUG and anything else is written back
to stderr unchanged, so a real error still shows. The hook's classes are plain
classes that the import system calls by name (`find_spec`; `create_module`,
`exec_module`): `importlib.abc` would import `importlib.resources` into every
`gcml` process for nothing.
"""

from __future__ import annotations

import importlib.machinery
import logging
import os
import re
import sys
import tempfile

# Native log lines: `I0000 00:00:1796131829.670467   26546 cudart_stub.cc:31] ...`.
_NATIVE = re.compile(r"^(?P<level>[IWEF])\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] (?P<text>.*)$")
_START_UP = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are "
               r"written to STDERR$"),
    re.compile(r"^To enable the following instructions: .*rebuild TensorFlow"),  # cpu feature guard
)
_START_UP_ERRORS = ("failed call to cuInit", "Unable to register cuDNN factory",
                    "Unable to register cuFFT factory", "Unable to register cuBLAS factory")


def is_start_up_line(line: str) -> bool:
  """Whether a line TensorFlow printed while starting is known start-up noise.

  Args:
    line: one line of native output, without its newline.

  Returns:
    True for absl's banner, native info lines, the cpu feature guard's advice and
    the known harmless errors of a machine without a GPU.
  """
  if any(pattern.match(line) for pattern in _START_UP):
    return True
  native = _NATIVE.match(line)
  if native is None:
    return False
  return native["level"] == "I" or any(text in native["text"] for text in _START_UP_ERRORS)


class _QuietLoader:
  """Runs the `tensorflow` package's loader with file descriptor 2 sent to a file."""

  def __init__(self, loader):
    self._loader = loader

  def __getattr__(self, name):  # is_package, get_code, get_resource_reader, ...
    return getattr(self._loader, name)

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
      os.dup2(captured.fileno(), 2)
      try:
        self._loader.exec_module(module)
        module.config.list_physical_devices()  # device start-up prints here (cuInit)
      finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        captured.seek(0)
        _sort_out(captured.read().decode("utf-8", "replace"))


def _sort_out(text: str) -> None:
  """Logs the start-up lines at DEBUG and writes every other line back to stderr."""
  others = []
  for line in text.splitlines():
    if is_start_up_line(line):
      logging.debug("TensorFlow start-up: %s", line)
    else:
      others.append(line + "\n")
  if others:
    sys.stderr.write("".join(others))
    sys.stderr.flush()


class _TensorFlowFinder:
  """Finds `tensorflow` as the other finders do and wraps its loader (once)."""

  def find_spec(self, fullname, path, target=None):
    if fullname != "tensorflow":
      return None
    sys.meta_path.remove(self)
    spec = importlib.machinery.PathFinder.find_spec(fullname, path)
    if spec is not None and spec.loader is not None:
      spec.loader = _QuietLoader(spec.loader)
    return spec


def install() -> bool:
  """Makes this process's first `import tensorflow` quiet (see the module's docstring).

  Returns:
    True when installed; False when TensorFlow is already imported (or the
    hook already is).
  """
  if "tensorflow" in sys.modules or any(isinstance(f, _TensorFlowFinder) for f in sys.meta_path):
    return False
  sys.meta_path.insert(0, _TensorFlowFinder())
  return True
