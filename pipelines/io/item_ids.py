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
MISSING_ID = "missing_id"  # a feature record without one id (or one that is not UTF-8)
EMPTY_ID = "empty_id"

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


def decode_id(raw: bytes) -> tuple[str, str | None]:
  """The one check of a feature record's id bytes (video-level and frame-level records).

  Args:
    raw: the record's one `id` value.

  Returns:
    (the normalised id, None), or ("", the reason it is refused: `missing_id`
    when it is not UTF-8, `empty_id`, `id_control_character`).
  """
  try:
    item_id = normalise(raw.decode("utf-8"))
  except UnicodeDecodeError:
    return "", MISSING_ID
  if not item_id:
    return "", EMPTY_ID
  if has_control_character(item_id):
    return "", ID_CONTROL_CHARACTER
  return item_id, None


def has_control_character(item_id: str) -> bool:
  """Returns whether `item_id` contains a character that breaks a TSV row.

  Args:
    item_id: a normalised id.

  Returns:
    True when the id cannot be written in a TSV row.
  """
  return _CONTROL.search(item_id) is not None
