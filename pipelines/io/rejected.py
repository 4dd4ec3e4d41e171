"""Rejected records: `OUTPUT/rejected/<stage>-*.tsv`, `stage\treason\toriginal-record`.

Nothing is dropped silently: a reader that refuses a record emits a
`Rejection`; `WriteRejected` writes them (sorted, deterministic) and the
reason counts go into `summary.json` as `rejected/<reason>`.
"""

import base64
import collections
from typing import NamedTuple

from pipelines.io.file_system import FileSystems

from pipelines.io import sharded_io


class Rejection(NamedTuple):
  stage: str
  reason: str
  record: str

  def line(self) -> str:
    """The record's line; backslash, tab, newline and CR in the record are escaped."""
    record = (self.record.replace("\\", "\\\\").replace("\t", "\\t")
              .replace("\n", "\\n").replace("\r", "\\r"))
    return f"{self.stage}\t{self.reason}\t{record}"


def binary_record(data: bytes) -> str:
  """Text form of a binary (TFRecord) record: `b64:` + base64.

  Args:
    data: the record's bytes.

  Returns:
    `b64:` followed by the base64 of `data`.
  """
  return "b64:" + base64.b64encode(data).decode("ascii")


def rejected_prefix(output_dir: str, stage: str) -> str:
  """Where a stage's rejected records go.

  Args:
    output_dir: the stage's output folder.
    stage: the stage's name.

  Returns:
    The shard prefix `OUTPUT/rejected/STAGE`.
  """
  return FileSystems.join(output_dir, "rejected", stage)


def write_rejected_local(output_dir: str, stage: str, rejections: list) -> dict:
  """Writes rejected/<stage>-*.tsv as `WriteRejected` does; returns the counts.

  Args:
    output_dir: the stage's output folder.
    stage: the stage name.
    rejections: the Rejections.

  Returns:
    `rejected/<reason>` -> count.
  """
  lines = [r.line() for r in rejections]
  sharded_io.write_sorted_shards_local(((x, x) for x in lines),
                                       rejected_prefix(output_dir, stage), ".tsv", 1)
  return dict(collections.Counter(f"rejected/{r.reason}" for r in rejections))
