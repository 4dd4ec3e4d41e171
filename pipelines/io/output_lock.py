"""One writer per output directory: `OUTPUT/_LOCK` names the writer's host and pid.

`gcml <stage> --output_dir=OUT` holds the lock while the stage runs. A second
run into the same directory while the first is alive stops at once with one
line naming the holder, instead of both writing and leaving a mix. A lock left
by a process that died (same host, pid gone) is taken over with a warning; one
from another host cannot be checked from here, so it is refused and the message
says how to clear it. On taking the lock, temporaries of killed runs
(`.tmp-<uuid>-*`, up to two folders down) are deleted: no live writer owns them.
So is the temp folder of the dead run's Beam pipelines: `stage_run` has Beam
make its temp folders inside one folder of the run (`beam_temp_folder`), whose
name is written into the lock before the folder is made and dropped from it
once the folder is removed, so a kill at any point leaves nothing unrecorded.

The lock is re-entrant within one process (a stage that calls another stage).
"""

import contextlib
import errno
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import uuid

from pipelines.io.file_system import FileSystems

from pipelines.errors import InputError

LOCK_NAME = "_LOCK"
BEAM_TEMP_PREFIX = "gcml-beam-temp-"  # + a uuid4's hex: a run's folder for Beam's temporaries
_BEAM_TEMP = re.compile(rf"{BEAM_TEMP_PREFIX}[0-9a-f]{{32}}")
_BEAM_TEMP_KEY = "beam_temp_dirs"
_held = {}  # lock path -> depth, for this process


def lock_path(output_dir: str) -> str:
  """The lock file of an output folder.

  Args:
    output_dir: the folder.

  Returns:
    `OUTPUT/_LOCK`.
  """
  return FileSystems.join(output_dir, LOCK_NAME)


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def _is_local(path: str) -> bool:
  return "://" not in path


def _holder(path: str) -> dict:
  try:
    with FileSystems.open(path, compression_type="uncompressed") as f:
      return json.loads(f.read().decode("utf-8"))
  except Exception:  # pylint: disable=broad-except
    return {}


def _create(path: str, body: bytes) -> bool:
  """Creates the lock file unless it exists; returns False when it does."""
  if _is_local(path):
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
      return False
    with os.fdopen(fd, "wb") as f:
      f.write(body)
    return True
  if FileSystems.exists(path):  # object stores: best effort, no atomic create
    return False
  with FileSystems.create(path) as f:
    f.write(body)
  return True


# `sharded_io.atomic_write` names its temporaries `.tmp-<uuid4 hex>-<name>`.
_TEMPORARY = re.compile(r"^\.tmp-[0-9a-f]{32}-")
_DEPTH = 2  # DIR, DIR/x (rejected/, or a stage's folder under a demo run), DIR/x/y


def remove_temporaries(output_dir: str) -> int:
  """Deletes gcml's `.tmp-*` files under `output_dir` (two levels down); returns how many.

  Args:
    output_dir: the folder to clean.

  Returns:
    How many files were removed.
  """
  if not _is_local(output_dir):  # object stores: the folder and rejected/
    found = FileSystems.match([FileSystems.join(output_dir, ".tmp-*"),
                               FileSystems.join(output_dir, "rejected", ".tmp-*")])
    paths = [m.path for result in found for m in result.metadata_list]
  else:
    paths, top = [], output_dir.rstrip(os.sep).count(os.sep)
    for d, dirs, names in os.walk(output_dir):
      if d.rstrip(os.sep).count(os.sep) - top >= _DEPTH:
        dirs[:] = []
      paths.extend(os.path.join(d, n) for n in names)
  paths = [p for p in paths if _TEMPORARY.match(os.path.basename(p))]
  if paths:
    FileSystems.delete(paths)
  return len(paths)


def _rewrite(path: str, holder: dict) -> None:
  body = (json.dumps(holder, sort_keys=True) + "\n").encode()
  if not _is_local(path):
    with FileSystems.create(path) as f:
      f.write(body)
    return
  temporary = os.path.join(os.path.dirname(path), f".tmp-{uuid.uuid4().hex}-{LOCK_NAME}")
  with open(temporary, "wb") as f:
    f.write(body)
  os.replace(temporary, path)  # a reader sees the old lock or the new one, never a part


def _note_beam_temp(folder: str, present: bool) -> None:
  """Adds `folder` to (or drops it from) every lock this process holds."""
  for path in list(_held):
    holder = _holder(path)
    if holder.get("pid") != os.getpid():
      continue  # not (or no longer) our lock file
    folders = [f for f in holder.get(_BEAM_TEMP_KEY, []) if f != folder]
    folders += [folder] if present else []
    holder[_BEAM_TEMP_KEY] = folders
    if not folders:
      del holder[_BEAM_TEMP_KEY]
    _rewrite(path, holder)


@contextlib.contextmanager
def beam_temp_folder():
  """Makes a fresh folder for a Beam run's temporaries, recorded in this process's locks.

  The folder's name is written into every lock this process holds before the
  folder is made, and dropped only after it is removed: a run killed at any
  point leaves the folder (if made) and its record; the next run that takes
  over the dead run's lock deletes it.

  Returns:
    A context manager giving the folder's path (`gcml-beam-temp-<hex>` in the
    system temp folder); the folder is removed when the block ends.
  """
  folder = os.path.join(tempfile.gettempdir(), f"{BEAM_TEMP_PREFIX}{uuid.uuid4().hex}")
  _note_beam_temp(folder, True)
  try:
    os.mkdir(folder, 0o700)
    yield folder
  finally:
    shutil.rmtree(folder, ignore_errors=True)
    _note_beam_temp(folder, False)


def _remove_beam_temp(folders, what: str) -> None:
  """Deletes the folders a dead run's lock recorded that are its Beam temp folders.

  Only a directory (not a link) named `gcml-beam-temp-<32 hex digits>` right
  under this host's temp root is deleted; any other path is left alone.
  """
  root = os.path.realpath(tempfile.gettempdir())
  for folder in folders if isinstance(folders, list) else []:
    if not isinstance(folder, str) or not os.path.isabs(folder):
      continue
    parent, name = os.path.split(os.path.normpath(folder))
    if (_BEAM_TEMP.fullmatch(name) and os.path.isdir(folder)
        and not os.path.islink(folder) and os.path.realpath(parent) == root):
      shutil.rmtree(folder, ignore_errors=True)
      logging.info("%s: removed %s left by a killed run", what, folder)


def acquire(output_dir: str, what: str) -> None:
  """Takes the directory's lock for this process, or raises InputError.

  Args:
    output_dir: the folder to lock.
    what: the command, for the message.
  """
  path = lock_path(output_dir)
  if path in _held:
    _held[path] += 1
    return
  if _is_local(output_dir):
    try:
      os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
      raise InputError(f"--output_dir={output_dir}: cannot create it ({e.strerror})") from None
  elif not FileSystems.exists(output_dir):
    FileSystems.mkdirs(output_dir)
  me = {"host": socket.gethostname(), "pid": os.getpid(), "command": what}
  body = (json.dumps(me, sort_keys=True) + "\n").encode()
  dead_beam_temp = []
  for _ in range(2):
    try:
      if _create(path, body):
        break
    except OSError as e:
      if e.errno in (errno.EACCES, errno.EROFS, errno.ENOSPC):
        raise InputError(f"--output_dir={output_dir}: cannot write the lock file "
                         f"({e.strerror})") from None
      raise
    holder = _holder(path)
    same_host = holder.get("host") == me["host"]
    pid = holder.get("pid")
    if same_host and isinstance(pid, int) and not _pid_alive(pid):
      logging.warning("%s: taking over the lock of %s (pid %d is gone)", what, path, pid)
      FileSystems.delete([path])
      dead_beam_temp = holder.get(_BEAM_TEMP_KEY, [])
      continue
    raise InputError(
        f"--output_dir={output_dir} is being written by another run "
        f"({holder.get('command', '?')}, host {holder.get('host', '?')} pid {pid}); "
        f"wait for it, use another directory, or delete {path} if no run is alive")
  else:
    raise InputError(f"--output_dir={output_dir}: could not take the lock {path}")
  _held[path] = 1
  _remove_beam_temp(dead_beam_temp, what)
  removed = remove_temporaries(output_dir)
  if removed:
    logging.info("%s: removed %d temporary file(s) of earlier runs", what, removed)


def held_here(path: str) -> bool:
  """True when the lock file `path` is held by this process (its own output folder).

  Args:
    path: a lock file.

  Returns:
    Whether this process holds the lock.
  """
  if _is_local(path):
    return os.path.abspath(path) in {os.path.abspath(p) for p in _held}
  return path in _held


def release(output_dir: str) -> None:
  """Removes this process's lock of an output folder (nothing if it holds none).

  Args:
    output_dir: the locked folder.
  """
  path = lock_path(output_dir)
  if path not in _held:
    return
  _held[path] -= 1
  if _held[path] == 0:
    del _held[path]
    with contextlib.suppress(Exception):
      FileSystems.delete([path])


@contextlib.contextmanager
def held(output_dir: str | None, what: str):
  """Holds the lock of `output_dir` (None: nothing to lock) for a `with` block.

  Args:
    output_dir: the folder, or None.
    what: the command, for the message.

  Returns:
    A context manager; the lock is released when the block ends.
  """
  if not output_dir:
    yield
    return
  acquire(output_dir, what)
  try:
    yield
  finally:
    release(output_dir)


def output_dir_of(argv: list[str]) -> str | None:
  """The `--output_dir` value of a command line, if any.

  Args:
    argv: the command's arguments.

  Returns:
    The folder, or None when the command names none.
  """
  for i, arg in enumerate(argv):
    if arg.startswith("--output_dir="):
      return arg.split("=", 1)[1] or None
    if arg == "--output_dir" and i + 1 < len(argv):
      return argv[i + 1]
  return None
