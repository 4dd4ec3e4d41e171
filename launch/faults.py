"""File-system faults (full, read-only, not a directory, ...) as one line.

`file_fault(error)` looks through an exception and its causes (Beam wraps a
worker's exception in a `RuntimeError` naming the step) for an `OSError`
with one of `FILE_ERRNOS`, or a TensorFlow file op's `OpError` of one of
`TF_FILE_ERRORS`, and returns one line for `gcml` to print; None otherwise.
"""

import errno
import re
import sys

FILE_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                         errno.ENOTDIR, errno.EISDIR, errno.EFBIG, errno.EEXIST))
# TensorFlow's file ops report these conditions as OpErrors (no errno): ENOSPC is
# ResourceExhausted, EFBIG (a file size limit) OutOfRange, ENOTDIR FailedPrecondition.
TF_FILE_ERRORS = ("PermissionDeniedError", "ResourceExhaustedError", "FailedPreconditionError",
                  "AlreadyExistsError", "OutOfRangeError")


def file_fault(error: BaseException) -> str | None:
  """One line for a file-system fault in `error` or its causes, else None.

  Args:
    error: the exception a command stopped with.

  Returns:
    `strerror: filename (in the Beam step)`, or None when no cause is a file-system fault.
  """
  outer, seen = "", set()
  while error is not None and id(error) not in seen:
    seen.add(id(error))
    if isinstance(error, OSError) and error.errno in FILE_ERRNOS:
      where = f": {error.filename}" if error.filename else ""
      step = re.search(r"\[while running '([^']+)'\]", outer)  # Beam names the failing step
      return f"{error.strerror}{where}" + (f" (in {step.group(1)})" if step else "")
    tf = sys.modules.get("tensorflow")
    if (tf is not None and isinstance(error, tf.errors.OpError) and
        error.__class__.__name__ in TF_FILE_ERRORS):
      return _tf_message(error.message)
    outer, error = str(error), error.__cause__ or error.__context__
  return None


def _tf_message(message: str) -> str:
  """TensorFlow's message without the function-node prefix and op suffix, on one line."""
  lines = [l.strip() for l in message.splitlines() if l.strip() and not l.strip().startswith("[[")]
  text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", lines[0] if lines else message)
  return re.sub(r"\s*\[Op:\w+\]$", "", text)
