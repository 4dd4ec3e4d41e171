"""TensorFlow's start-up: native lines kept off the console, autograph's files removed.

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

Autograph writes each function it converts as a `__autograph_generated_file*.py`
in the temp folder and deletes it at exit, but a process that never runs its
exit handlers (killed, `os._exit`) leaves them: hundreds a day for a user who
trains daily. After the import, `install()` sends them to one
`gcml-autograph-*` folder per process under the temp folder, locked (`flock`)
while the process lives and removed at its exit; each start-up also removes the
unlocked folders that killed processes left (`private_autograph_folder`).
"""

from __future__ import annotations

import atexit
import fcntl
import functools
import importlib.machinery
import logging
import os
import re
import shutil
import sys
import tempfile
import types

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
    private_autograph_folder()


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


AUTOGRAPH_PREFIX = "gcml-autograph-"


def _lock(path: str) -> int | None:
  """This process's exclusive `flock` on the folder `path`: its descriptor, or None if held."""
  fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except BlockingIOError:
    os.close(fd)
    return None
  return fd


def remove_left_autograph_folders(temp_root: str) -> list[str]:
  """Removes the `gcml-autograph-*` folders no live process holds.

  Args:
    temp_root: the folder holding them (the system temp folder).

  Returns:
    The folders removed (those of killed processes).
  """
  removed = []
  with os.scandir(temp_root) as entries:
    names = [e.name for e in entries if e.name.startswith(AUTOGRAPH_PREFIX)]
  for name in sorted(names):
    path = os.path.join(temp_root, name)
    try:
      fd = _lock(path)
    except OSError:  # gone already, not a folder, another user's
      continue
    if fd is not None:
      try:
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
      finally:
        os.close(fd)
  return removed


def _locked_folder(temp_root: str) -> tuple[str, int]:
  """A new `gcml-autograph-*` folder and the descriptor holding its lock.

  Another process's sweep may lock and remove the folder between `mkdtemp` and
  the lock; then the folder is gone (or not the one locked) and another is made.
  """
  while True:
    folder = tempfile.mkdtemp(prefix=AUTOGRAPH_PREFIX, dir=temp_root)
    try:
      fd = _lock(folder)
    except FileNotFoundError:
      continue
    if fd is None:
      continue
    try:
      if os.path.samestat(os.fstat(fd), os.stat(folder)):
        return folder, fd
    except FileNotFoundError:
      pass
    os.close(fd)


def _remove_own(folder: str, pid: int) -> None:
  if os.getpid() == pid:  # not from a forked child that runs exit handlers
    shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def private_autograph_folder() -> str | None:
  """Sends autograph's generated files to a folder of this process, removed at exit.

  The folder, `gcml-autograph-*` in the temp folder, stays locked while this
  process lives, so a later start-up tells a killed process's folder from a
  live one's and removes it. Call after `import tensorflow`; once per process.

  Returns:
    The folder; None when the temp folder cannot hold it (autograph then
    writes where it would have).
  """
  from tensorflow.python.autograph.pyct import loader  # pylint: disable=import-outside-toplevel
  temp_root = tempfile.gettempdir()
  try:
    remove_left_autograph_folders(temp_root)
    folder, fd = _locked_folder(temp_root)
  except OSError as e:
    logging.debug("autograph's files stay in %s: %s", temp_root, e)
    return None
  _HELD_LOCKS.append(fd)  # open until the process ends, so is the lock
  atexit.register(_remove_own, folder, os.getpid())
  loader.tempfile = types.SimpleNamespace(  # loader.py uses tempfile.NamedTemporaryFile only
      NamedTemporaryFile=functools.partial(tempfile.NamedTemporaryFile, dir=folder))
  return folder


_HELD_LOCKS: list[int] = []


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
  """Hooks this process's first `import tensorflow` (see the module's docstring).

  The import is quiet, and autograph's files then go to this process's own
  folder (`private_autograph_folder`).

  Returns:
    True when installed; False when TensorFlow is already imported (or the
    hook already is).
  """
  if "tensorflow" in sys.modules or any(isinstance(f, _TensorFlowFinder) for f in sys.meta_path):
    return False
  sys.meta_path.insert(0, _TensorFlowFinder())
  return True
