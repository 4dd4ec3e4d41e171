"""Errors that a user can fix: bad paths, unreadable files, bad flag values.

The `gcml` command prints these as one line naming what is wrong and exits 2;
they never surface as a traceback.
"""


class InputError(Exception):
  """A problem with the user's input or flags, reported in one line."""
