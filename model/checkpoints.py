"""Checkpoint restore with fall-back, and the atomic SavedModel swap.

* `restore_newest_valid` restores the newest checkpoint of a directory that
  reads back whole. The candidates are every `ckpt-N` prefix found on disk
  (an `.index` or `.data-*` file) and every one the `checkpoint` state file
  names, newest step first. A damaged one (truncated `.data`, garbage
  `.index`, missing files, a state file naming a deleted checkpoint) is
  skipped with a one-line warning; when checkpoints exist but none restores
  (for example all of another network), it is a one-line `ConfigError`,
  never a silent start from step 0.
* `atomic_export` writes a SavedModel to a temporary sibling directory and
  swaps it in by renames: a run killed while saving leaves the previous
  `export/` as it was. The old directory is renamed aside (`export.old-*`)
  just before the new one is renamed into place; `recover_export` puts it
  back if a run died between the two renames.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable

import tensorflow as tf

from model.errors import ConfigError

log = logging.getLogger(__name__)

_STEP = re.compile(r"^ckpt-(\d+)(?:\.index|\.data-\d+-of-\d+)?$")


def candidates(directory: str) -> list[str]:
  """Checkpoint prefixes in `directory`, newest step first (files or state named)."""
  prefixes = {}
  for path in tf.io.gfile.glob(os.path.join(directory, "ckpt-*")):
    match = _STEP.match(os.path.basename(path))
    if match:
      prefixes[int(match.group(1))] = os.path.join(directory, f"ckpt-{match.group(1)}")
  try:
    state = tf.train.get_checkpoint_state(directory)
  except Exception:  # pylint: disable=broad-except  (a garbage `checkpoint` file)
    log.warning("%s/checkpoint is not a checkpoint state file; using the files on disk",
                directory)
    state = None
  for path in (state.all_model_checkpoint_paths if state else []):
    match = _STEP.match(os.path.basename(path))
    if match:
      prefixes.setdefault(int(match.group(1)), os.path.join(directory, os.path.basename(path)))
  return [prefixes[step] for step in sorted(prefixes, reverse=True)]


def _why_unreadable(prefix: str) -> str | None:
  if not tf.io.gfile.exists(prefix + ".index"):
    return "its .index file is missing"
  if not tf.io.gfile.glob(prefix + ".data-*"):
    return "its .data file is missing"
  return None


def restore_newest_valid(checkpoint: tf.train.Checkpoint, directory: str) -> str | None:
  """Restores the newest checkpoint of `directory` that reads back whole.

  Args:
    checkpoint: the objects to restore (all already created).
    directory: the checkpoint directory.

  Returns:
    The restored prefix, or None when the directory holds no checkpoint.

  Raises:
    ConfigError: checkpoints exist but none of them can be restored.
  """
  found = candidates(directory)
  failures = []
  for prefix in found:
    reason = _why_unreadable(prefix)
    if reason is None:
      status = None
      try:
        status = checkpoint.restore(prefix)
        status.assert_existing_objects_matched()
      except Exception as e:  # pylint: disable=broad-except  (IndexError, OpError, ...)
        reason = _one_line(e)
        if status is not None:
          status.expect_partial()  # no second warning when the status is collected
    if reason is None:
      if failures:
        log.warning("restored %s instead (the newest that reads back whole)", prefix)
      return prefix
    failures.append(prefix)
    log.warning("checkpoint %s cannot be restored (%s); trying the previous one", prefix, reason)
  if failures:
    names = ", ".join(os.path.basename(p) for p in failures)
    raise ConfigError(f"{directory}: none of the checkpoints {names} "
                      "can be restored (see the warnings above); move them away to train "
                      "from step 0")
  return None


def _one_line(error: Exception) -> str:
  text = getattr(error, "message", None) or str(error) or error.__class__.__name__
  lines = [l.strip() for l in text.splitlines() if l.strip()]
  return f"{error.__class__.__name__}: {lines[0] if lines else ''}"[:300]


def _aside(path: str) -> list[str]:
  return sorted(tf.io.gfile.glob(f"{path}.old-*"))


def recover_export(path: str) -> None:
  """Puts back an export renamed aside by a run that died mid-swap; drops temporaries."""
  aside = _aside(path)
  if aside and not tf.io.gfile.exists(path):
    tf.io.gfile.rename(aside[-1], path)
    log.warning("restored %s from %s (a previous export was interrupted)", path, aside[-1])
  for stale in tf.io.gfile.glob(f"{path}.tmp-*") + _aside(path):
    tf.io.gfile.rmtree(stale)


def atomic_export(save: Callable[[str], object], path: str) -> str:
  """Calls `save(tmp)` on a temporary sibling of `path`, then swaps it in.

  Args:
    save: writes the SavedModel to the directory it is given.
    path: the final directory (replaced if it exists).

  Returns:
    `path`.
  """
  recover_export(path)
  tmp = f"{path}.tmp-{uuid.uuid4().hex}"
  try:
    save(tmp)
  except BaseException:
    if tf.io.gfile.exists(tmp):
      tf.io.gfile.rmtree(tmp)
    raise
  old = None
  if tf.io.gfile.exists(path):
    old = f"{path}.old-{uuid.uuid4().hex}"
    tf.io.gfile.rename(path, old)
  tf.io.gfile.rename(tmp, path)
  if old is not None:
    tf.io.gfile.rmtree(old)
  return path
