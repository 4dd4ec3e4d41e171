"""Edges (contract 1): read, validate, canonicalise and combine duplicates.

Input is text `src,dst,weight` (csv) or tab-separated (tsv) with an optional
header line, or TFRecord of `tf.train.Example` with `src`, `dst` (bytes) and
`weight` (float). A missing weight is 1. Edges are undirected: (a, b) and
(b, a) are one edge, kept as (min, max) and combined by `--edge_combine`.

Every refused record becomes a `Rejection` with one of the reasons below.
"""

import csv
import dataclasses
import math
import re
from typing import NamedTuple

import apache_beam as beam

from pipelines import combiners
from pipelines.io import inputs, item_ids, tfrecord_files
from pipelines.errors import InputError
from pipelines.io.rejected import Rejection, binary_record

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
  """Resolves `auto` from the file extension of the pattern."""
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
  """Returns the rejection reason of a weight, or None when it is valid."""
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
  """Validates the endpoints and weight; returns an Edge or a reason."""
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
  """
  if _FLOAT.match(text) or text.lower() in _NAMED:
    return float(text)
  return None


def split_fields(line: str, delimiter: str) -> list[str] | None:
  """The fields of a line: RFC 4180 for csv (quotes removed), plain split for tsv.

  Returns None for a csv line whose quoting is broken. A line without a quote
  is split directly (the same fields as the csv module, faster).
  """
  if delimiter != "," or '"' not in line:
    return line.split(delimiter)
  try:
    return next(csv.reader([line], strict=True))
  except csv.Error:
    return None


def parse_text_edge(line: str, delimiter: str) -> Edge | str:
  """Parses one text line. Returns an Edge, a rejection reason, HEADER or BLANK.

  A UTF-8 byte order mark starting the line is dropped; ids are normalised by
  `item_ids.normalise`.
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
  """The rejection of an edge whose combined (`sum`) weight is not a finite float."""
  return Rejection(stage, WEIGHT_SUM_OVERFLOW,
                   f"{src},{dst}: the sum of its {records} weights overflows a float")


class _ParseEdges(beam.DoFn):
  """Parses raw records into Edges; rejections and counts go to side outputs."""

  def __init__(self, edge_format: str, stage: str):
    self._format = edge_format
    self._stage = stage
    self._edges = beam.metrics.Metrics.counter("gcml_edges", "records_read")
    self._rejected = beam.metrics.Metrics.counter("gcml_edges", "records_rejected")

  def process(self, raw: bytes):
    self._edges.inc()
    if self._format == "tfrecord":
      result = parse_example_edge(raw)
      shown = binary_record(raw)
    else:
      try:
        line = raw.decode("utf-8")
      except UnicodeDecodeError:
        result, line = NOT_UTF8, raw.decode("utf-8", errors="replace")
      else:
        result = parse_text_edge(line, "," if self._format == "csv" else "\t")
      shown = line
    if isinstance(result, Edge):
      yield result
    elif result in (HEADER, BLANK):
      yield beam.pvalue.TaggedOutput("stats", (f"edges/{result}_lines", 1))
    else:
      self._rejected.inc()
      yield beam.pvalue.TaggedOutput("rejected", Rejection(self._stage, result, shown))


class ReadEdgesResult(NamedTuple):
  edges: beam.PCollection  # Edge, unique (src, dst), src < dst
  rejected: beam.PCollection  # Rejection
  stats: beam.PCollection  # (name, count)


@dataclasses.dataclass
class ReadEdges(beam.PTransform):
  """Reads, validates and combines edges.

  Attributes:
    paths: files to read (see `inputs.check_files`).
    edge_format: csv, tsv or tfrecord.
    combine: how duplicate edges combine: max or sum (a sum that overflows a
      float is rejected as `weight_sum_overflow`, one per edge).
    stage: stage name written in rejection records.
    min_weight: edges with weight < min_weight are dropped after combining
      and counted as `edges/under_min_weight` (0 keeps all).
  """
  paths: list[str]
  edge_format: str
  combine: str = "max"
  stage: str = "validate"
  min_weight: float = 0.0

  def __post_init__(self):
    super().__init__()
    if self.combine not in ("max", "sum"):
      raise InputError(f"--edge_combine must be max or sum, got {self.combine!r}")

  def expand(self, pbegin):
    files = pbegin | "ListFiles" >> beam.Create(self.paths)
    if self.edge_format == "tfrecord":
      read = files | "ReadRecords" >> tfrecord_files.ReadTFRecordFiles(self.stage)
      raw, unreadable = read.records, [read.rejected]
    else:
      raw = files | "ReadLines" >> beam.io.ReadAllFromText(coder=beam.coders.BytesCoder())
      unreadable = []
    parsed = raw | "ParseEdges" >> beam.ParDo(
        _ParseEdges(self.edge_format, self.stage)).with_outputs("rejected", "stats", main="edges")
    stage = self.stage
    checked = (parsed.edges
               | "KeyByPair" >> beam.Map(lambda e: ((e.src, e.dst), e.weight))
               | "CombineDuplicates" >> beam.CombinePerKey(combiners.EdgeWeightFn(self.combine))
               | "FiniteSums" >> beam.FlatMapTuple(lambda pair, wn: [
                   (pair, wn) if math.isfinite(wn[0]) else beam.pvalue.TaggedOutput(
                       "rejected", overflow_rejection(stage, pair[0], pair[1], wn[1]))
               ]).with_outputs("rejected", main="edges"))
    combined = checked.edges
    min_weight = self.min_weight
    edges = (combined
             | "ToEdges" >> beam.MapTuple(lambda pair, wn: Edge(pair[0], pair[1], wn[0]))
             | "AtLeastMinWeight" >> beam.Filter(lambda e: e.weight >= min_weight))
    counts = (combined
              | "CountEdges" >> beam.FlatMapTuple(lambda pair, wn: [
                  ("edges/valid_records", wn[1]),
                  ("edges/duplicates_combined", wn[1] - 1),
                  ("edges/unique_edges", 1),
                  ("edges/under_min_weight", int(wn[0] < min_weight)),
              ]))
    stats = (parsed.stats, counts) | "FlattenEdgeStats" >> beam.Flatten()
    rejected = ((parsed.rejected, checked.rejected, *unreadable)
                | "FlattenRejected" >> beam.Flatten())
    return ReadEdgesResult(edges, rejected, stats)
