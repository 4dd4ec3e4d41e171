"""Edges (contract 1): read, validate, canonicalise and combine duplicates.

Input is text `src,dst,weight` (csv) or tab-separated (tsv) with an optional
header line, or TFRecord of `tf.train.Example` with `src`, `dst` (bytes) and
`weight` (float). A missing weight is 1. Edges are undirected: (a, b) and
(b, a) are one edge, kept as (min, max) and combined by `--edge_combine`.

Every refused record becomes a `Rejection` with one of the reasons below.
"""

import dataclasses
import math
from typing import NamedTuple

import apache_beam as beam

from pipelines import combiners
from pipelines import inputs, item_ids, tfrecord_files
from pipelines.errors import InputError
from pipelines.rejected import Rejection, binary_record

FORMATS = ("csv", "tsv", "tfrecord")

WRONG_COLUMN_COUNT = "wrong_column_count"
EMPTY_ID = "empty_id"
SELF_LOOP = "self_loop"
WEIGHT_NOT_A_NUMBER = "weight_not_a_number"
WEIGHT_NAN = "weight_nan"
WEIGHT_INFINITE = "weight_infinite"
WEIGHT_ZERO = "weight_zero"
WEIGHT_NEGATIVE = "weight_negative"
NOT_UTF8 = "not_utf8"
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


def parse_text_edge(line: str, delimiter: str) -> Edge | str:
  """Parses one text line. Returns an Edge, a rejection reason, HEADER or BLANK."""
  if not line.strip():
    return BLANK
  fields = [f.strip() for f in line.split(delimiter)]
  if len(fields) not in (2, 3):
    return WRONG_COLUMN_COUNT
  if [f.lower() for f in fields[:2]] == ["src", "dst"] and (
      len(fields) == 2 or fields[2].lower() == "weight"):
    return HEADER
  if len(fields) == 2 or fields[2] == "":
    weight = 1.0
  else:
    try:
      weight = float(fields[2])
    except ValueError:
      return WEIGHT_NOT_A_NUMBER
  return make_edge(fields[0], fields[1], weight)


def parse_example_edge(data: bytes) -> Edge | str:
  """Parses one serialized tf.train.Example edge record."""
  from pipelines import tf_example  # pylint: disable=import-outside-toplevel
  try:
    feats = tf_example.parse(data)
  except ValueError:
    return NOT_AN_EXAMPLE
  src, dst = feats.get("src"), feats.get("dst")
  if src is None or dst is None or len(src) != 1 or len(dst) != 1:
    return MISSING_FIELD
  weight = feats.get("weight")
  if weight is None or len(weight) == 0:
    w = 1.0
  elif len(weight) != 1:
    return WEIGHT_NOT_A_NUMBER
  else:
    w = float(weight[0])
  try:
    a, b = src[0].decode("utf-8"), dst[0].decode("utf-8")
  except (UnicodeDecodeError, AttributeError):
    return NOT_UTF8
  return make_edge(a, b, w)


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
    combine: how duplicate edges combine: max or sum.
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
    combined = (parsed.edges
                | "KeyByPair" >> beam.Map(lambda e: ((e.src, e.dst), e.weight))
                | "CombineDuplicates" >> beam.CombinePerKey(combiners.EdgeWeightFn(self.combine)))
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
    rejected = (parsed.rejected, *unreadable) | "FlattenRejected" >> beam.Flatten()
    return ReadEdgesResult(edges, rejected, stats)
