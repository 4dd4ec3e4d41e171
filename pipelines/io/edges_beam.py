"""Edges (contract 1) on Beam: read, validate, canonicalise and combine duplicates.

`ReadEdges` reads text (csv, tsv) or TFRecord edge files, parses every record
with the rules of `edge_records.py` (a refused record becomes a `Rejection`
with its reason), and combines the duplicates of an undirected edge by
`--edge_combine`.
"""

import dataclasses
import math
from typing import NamedTuple

import apache_beam as beam

from pipelines import combiners
from pipelines.errors import InputError
from pipelines.io import tfrecord_files_beam
from pipelines.io.edge_records import (BLANK, HEADER, NOT_UTF8, Edge, overflow_rejection,
                                       parse_example_edge, parse_text_edge)
from pipelines.io.rejected import Rejection, binary_record


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
      read = files | "ReadRecords" >> tfrecord_files_beam.ReadTFRecordFiles(self.stage)
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
