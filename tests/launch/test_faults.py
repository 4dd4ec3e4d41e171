"""`launch/faults.py`: a file-system fault found in an exception or its causes, as one line."""

import errno

import tensorflow as tf

from launch.faults import file_fault


def test_an_os_error_of_a_file_errno_gives_its_text_and_file():
  error = OSError(errno.ENOSPC, "No space left on device", "/out/part-0")
  assert file_fault(error) == "No space left on device: /out/part-0"


def test_without_a_file_name_only_the_text():
  assert file_fault(OSError(errno.EROFS, "Read-only file system")) == "Read-only file system"


def test_a_cause_inside_a_beam_step_names_the_step():
  inner = OSError(errno.EACCES, "Permission denied", "/out/t.tmp")
  outer = RuntimeError("PermissionError [while running 'Write tables/Write']")
  outer.__cause__ = inner
  assert file_fault(outer) == "Permission denied: /out/t.tmp (in Write tables/Write)"


def test_the_context_is_followed_when_there_is_no_cause():
  try:
    try:
      raise OSError(errno.ENOTDIR, "Not a directory", "/file/sub")
    except OSError:
      raise ValueError("while writing")  # pylint: disable=raise-missing-from
  except ValueError as e:
    assert file_fault(e) == "Not a directory: /file/sub"


def test_other_errors_are_not_file_faults():
  assert file_fault(OSError(errno.ENOENT, "No such file or directory", "/x")) is None
  assert file_fault(ValueError("bad value")) is None


def test_a_cycle_of_causes_ends():
  a, b = ValueError("a"), ValueError("b")
  a.__context__, b.__context__ = b, a
  assert file_fault(a) is None


def test_a_tensorflow_file_op_error_loses_its_prefix_and_op_suffix():
  error = tf.errors.ResourceExhaustedError(
      None, None, "{{function_node __wrapped__WriteFile}} /out/x; No space left on device "
      "[Op:WriteFile]\n\t [[node WriteFile]]")
  assert file_fault(error) == "/out/x; No space left on device"
  assert file_fault(tf.errors.InvalidArgumentError(None, None, "bad shape")) is None
