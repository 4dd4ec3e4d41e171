"""pipelines/io/summary.py: stage counts folded into `summary.json`."""

import glob
import json

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline

from pipelines.io import summary
from pipelines.io import summary_beam


def _summary(path) -> dict:
  with open(path / "summary.json", encoding="utf-8") as f:
    return json.load(f)


def test_update_summary_replaces_only_the_stage_section(tmp_path):
  summary.update_summary(str(tmp_path), "validate", {"edges": 3})
  summary.update_summary(str(tmp_path), "cluster", {"levels": 2})
  summary.update_summary(str(tmp_path), "validate", {"edges": 5})
  assert _summary(tmp_path) == {"cluster": {"levels": 2}, "validate": {"edges": 5}}
  with open(tmp_path / "summary.json", encoding="utf-8") as f:
    text = f.read()
  assert text.endswith("}\n") and text.index('"cluster"') < text.index('"validate"')


def test_read_json_of_a_missing_file_is_empty(tmp_path):
  assert summary.read_json(str(tmp_path / "nothing.json")) == {}


def test_write_stats_then_merge_sums_per_name_and_removes_the_stats_file(tmp_path):
  out = str(tmp_path)
  with TestPipeline() as p:
    _ = (p | beam.Create([("rejected/empty_id", 1), ("edges", 4), ("rejected/empty_id", 1),
                          ("edges", 6)])
         | summary_beam.WriteStats(out, "validate"))
  assert glob.glob(str(tmp_path / ".stats-validate*.jsonl"))
  section = summary.merge_stats_into_summary(out, "validate", extra={"engine": "beam"})
  assert section == {"edges": 10, "rejected/empty_id": 2, "engine": "beam"}
  assert _summary(tmp_path) == {"validate": section}
  assert not glob.glob(str(tmp_path / ".stats-validate*.jsonl"))
