"""Item ids: what every stage accepts as an id.

Ids travel through tab-separated tables (clusters, related items, classes,
rejected records) one row per line, so an id may not contain a control
character: a tab would add a column and a newline a row. Readers refuse such
ids as `id_control_character` (counted and written to `rejected/`) instead of
writing tables that the next stage misreads.
"""

import re

ID_CONTROL_CHARACTER = "id_control_character"
ID_NOT_BYTES = "id_not_bytes"  # a TFRecord id stored as int64 or float, not bytes

# Unicode category Cc: C0 controls (tab, newline, carriage return, NUL, ...),
# DEL and the C1 controls.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def normalise(item_id: str) -> str:
  """The one id normalisation of every reader: surrounding whitespace removed.

  Args:
    item_id: the id as read.

  Returns:
    The id every stage uses.
  """
  return item_id.strip()


def has_control_character(item_id: str) -> bool:
  """Returns whether `item_id` contains a character that breaks a TSV row.

  Args:
    item_id: a normalised id.

  Returns:
    True when the id cannot be written in a TSV row.
  """
  return _CONTROL.search(item_id) is not None
