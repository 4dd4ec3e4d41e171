"""Edge records (contract 1): the formats, the rules and the rejection reasons.

Input is text `src,dst,weight` (csv) or tab-separated (tsv) with an optional
header line, or TFRecord of `tf.train.Example` with `src`, `dst` (bytes) and
`weight` (float). A missing weight is 1. Edges are undirected: (a, b) and
(b, a) are one edge, kept as (min, max). Every refused record gets one of the
reasons below. Both engines parse with these functions (`edges_beam.py` on Beam,
`edges_local.py` in memory).
"""

import csv
import math
import re
from typing import NamedTuple

from pipelines.errors import InputError
from pipelines.io import inputs, item_ids
from pipelines.io.rejected import Rejection

FORMATS = ("csv", "tsv", "tfrecord")

WRONG_COLUMN_COUNT = "wrong_column_count"
EMPTY_ID = "empty_id"
SELF_LOOP = "self_loop"
WEIGHT_NOT_A_NUMBER = "weight_not_a_number"
WEIGHT_NAN = "weight_nan"
WEIGHT_INFINITE = "weight_infinite"
WEIGHT_ZERO = "weight_zero"
WEIGHT_NEGATIVE = "weight_negative"
WEIGHT_NOT_A_FLOAT = "weight_not_a_float"
NOT_UTF8 = "not_utf8"
CSV_BAD_QUOTING = "csv_bad_quoting"
WEIGHT_SUM_OVERFLOW = "weight_sum_overflow"
NOT_AN_EXAMPLE = "not_a_tf_example"
MISSING_FIELD = "missing_field"


class Edge(NamedTuple):
  """An undirected edge with src < dst."""
  src: str
  dst: str
  weight: float


HEADER = "header"
BLANK = "blank"


def edge_format_of(pattern: str, edge_format: str = "auto") -> str:
  """The edge format of a stage's `--edges`: `auto` resolved from the file extension.

  Args:
    pattern: the `--edges` glob(s), comma-separated (the first one names the format).
    edge_format: csv, tsv, tfrecord or auto.

  Returns:
    csv, tsv or tfrecord.

  Raises:
    InputError: an unknown format, or `auto` on a name without a known extension.
  """
  if edge_format != "auto":
    if edge_format not in FORMATS:
      raise InputError(f"--edge_format must be one of {', '.join(FORMATS)} or auto, "
                       f"got {edge_format!r}")
    return edge_format
  first = pattern.split(",")[0].strip().lower()
  if first.endswith(inputs.TFRECORD_SUFFIXES):
    return "tfrecord"
  if first.endswith(".tsv"):
    return "tsv"
  if first.endswith(".csv"):
    return "csv"
  raise InputError(f"cannot tell the format of {pattern} from its name; "
                   "pass --edge_format=csv|tsv|tfrecord")


def check_weight(value: float) -> str | None:
  """The rejection reason of a weight: NaN, infinite, zero or negative.

  Args:
    value: the weight.

  Returns:
    The reason, or None when the weight is valid.
  """
  if math.isnan(value):
    return WEIGHT_NAN
  if math.isinf(value):
    return WEIGHT_INFINITE
  if value == 0:
    return WEIGHT_ZERO
  if value < 0:
    return WEIGHT_NEGATIVE
  return None


def make_edge(a: str, b: str, weight: float) -> Edge | str:
  """An edge from two ids and a weight, canonicalised as (min, max).

  Args:
    a: one endpoint's id (normalised).
    b: the other endpoint's id.
    weight: the weight.

  Returns:
    The Edge, or the rejection reason (empty id, control character, self loop, bad weight).
  """
  if not a or not b:
    return EMPTY_ID
  if item_ids.has_control_character(a) or item_ids.has_control_character(b):
    return item_ids.ID_CONTROL_CHARACTER
  if a == b:
    return SELF_LOOP
  reason = check_weight(weight)
  if reason:
    return reason
  return Edge(a, b, weight) if a < b else Edge(b, a, weight)


# ASCII decimal float syntax only: no `1_000`, no non-ASCII digits, no hex.
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_NAMED = frozenset(sign + name for sign in ("", "+", "-") for name in ("nan", "inf", "infinity"))


def parse_weight(text: str) -> float | None:
  """A text weight as a float, or None unless it is an ASCII decimal (or nan/inf).

  `float()` alone also takes `1_000`, Arabic-Indic and full-width digits and
  surrounding Unicode spaces; those are `weight_not_a_number`. nan and inf
  parse so that they are rejected under their own reasons.

  Args:
    text: the weight column.

  Returns:
    The float, or None for text that is not a number.
  """
  if _FLOAT.match(text) or text.lower() in _NAMED:
    return float(text)
  return None


def split_fields(line: str, delimiter: str) -> list[str] | None:
  """The fields of a line: RFC 4180 for csv (quotes removed), plain split for tsv.

  A line without a quote is split directly (the same fields as the csv
  module, faster).

  Args:
    line: one line, without its newline.
    delimiter: `,` (csv) or a tab (tsv).

  Returns:
    The fields, or None for a csv line whose quoting is broken.
  """
  if delimiter != "," or '"' not in line:
    return line.split(delimiter)
  try:
    return next(csv.reader([line], strict=True))
  except csv.Error:
    return None


def parse_text_edge(line: str, delimiter: str) -> Edge | str:
  """Parses one text line of an edge file.

  A UTF-8 byte order mark starting the line is dropped; ids are normalised by
  `item_ids.normalise`.

  Args:
    line: the decoded line.
    delimiter: `,` (csv) or a tab (tsv).

  Returns:
    An Edge, a rejection reason, HEADER or BLANK.
  """
  line = line.removeprefix("\ufeff")
  if not line.strip():
    return BLANK
  fields = split_fields(line, delimiter)
  if fields is None:
    return CSV_BAD_QUOTING
  fields = [item_ids.normalise(f) for f in fields]
  if len(fields) not in (2, 3):
    return WRONG_COLUMN_COUNT
  if [f.lower() for f in fields[:2]] == ["src", "dst"] and (
      len(fields) == 2 or fields[2].lower() == "weight"):
    return HEADER
  if len(fields) == 2 or fields[2] == "":
    weight = 1.0
  else:
    weight = parse_weight(fields[2])
    if weight is None:
      return WEIGHT_NOT_A_NUMBER
  return make_edge(fields[0], fields[1], weight)


def parse_example_edge(data: bytes) -> Edge | str:
  """Parses one serialized tf.train.Example edge record.

  `src` and `dst` must be one UTF-8 bytes value each (normalised like every
  other id, `item_ids.normalise`); `weight` one float (an int64 is taken as
  its value); bytes are never parsed as a number (`weight_not_a_float`).

  Args:
    data: the serialized record.

  Returns:
    An Edge or a rejection reason.
  """
  from pipelines.io import tf_example  # pylint: disable=import-outside-toplevel
  try:
    feats = tf_example.parse(data)
  except ValueError:
    return NOT_AN_EXAMPLE
  src, dst = feats.get("src"), feats.get("dst")
  if src is None or dst is None or len(src) != 1 or len(dst) != 1:
    return MISSING_FIELD
  ids = []
  for value in (src[0], dst[0]):
    if not isinstance(value, bytes):
      return item_ids.ID_NOT_BYTES
    try:
      ids.append(item_ids.normalise(value.decode("utf-8")))
    except UnicodeDecodeError:
      return NOT_UTF8
  weight = feats.get("weight")
  if weight is None or len(weight) == 0:
    w = 1.0
  elif len(weight) != 1:
    return WEIGHT_NOT_A_NUMBER
  elif isinstance(weight[0], bytes):
    return WEIGHT_NOT_A_FLOAT
  else:
    w = float(weight[0])
  return make_edge(ids[0], ids[1], w)


def overflow_rejection(stage: str, src: str, dst: str, records: int) -> Rejection:
  """The rejection of an edge whose combined (`sum`) weight is not a finite float.

  Args:
    stage: the stage writing the rejection.
    src: the edge's first id.
    dst: its second id.
    records: how many records were added up.

  Returns:
    The `weight_sum_overflow` Rejection.
  """
  return Rejection(stage, WEIGHT_SUM_OVERFLOW,
                   f"{src},{dst}: the sum of its {records} weights overflows a float")
