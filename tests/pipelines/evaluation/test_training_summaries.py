"""Trainer summaries read back: scalars, margin table, charts (no training)."""

import numpy as np
import pytest

from pipelines.evaluation import training_summaries
from pipelines.errors import InputError
from tests.pipelines.evaluation.training_events import STEPS, expected, write_run


def test_scalars_read_back(tmp_path):
  run = write_run(str(tmp_path / "gcml"), restart_at=100)
  scalars = training_summaries.read_scalars(training_summaries.event_files(run))
  assert set(scalars) >= {"loss", "learning_rate", "usage_ratio", "chosen_margin_std"}
  for tag, points in scalars.items():
    assert [s for s, _ in points] == list(STEPS), tag
    np.testing.assert_allclose([v for _, v in points], [expected(tag, s) for s in STEPS],
                               rtol=1e-6)


def test_margin_table_and_section(tmp_path):
  runs = training_summaries.parse_model_dirs(
      [f"GCML={write_run(str(tmp_path / 'a'))},CDML={write_run(str(tmp_path / 'b'), False)}"])
  assert list(runs) == ["GCML", "CDML"]
  scalars = training_summaries.read_runs(runs)
  section = training_summaries.training_section(runs, scalars)
  assert section["CDML"]["margins"] is None
  assert section["GCML"]["last_step"] == 200
  table = section["GCML"]["margins"]
  assert table["steps"] == [10, 200]
  # Windows: the first / last 10 % of the logged span (19 steps): steps 10, 20 / 190, 200.
  np.testing.assert_allclose(table["early"]["assigned_margin_mean"], -0.2 + 15 / 1000)
  np.testing.assert_allclose(table["late"]["chosen_margin_mean"], 0.05 + 195 / 2000)
  np.testing.assert_allclose(table["late"]["usage_ratio"], 1 - 195 / 400)
  md = training_summaries.margin_markdown(section)
  assert "| GCML | early | 10 |" in md and "| GCML | late | 200 |" in md and "CDML" not in md
  charts = training_summaries.charts(scalars)
  assert sorted(charts) == ["training_curves.png", "usage_ratio.png"]
  assert all(png.startswith(b"\x89PNG") for png in charts.values())


def test_no_usage_chart_without_gcml_runs(tmp_path):
  runs = {"clc": write_run(str(tmp_path / "c"), False)}
  assert sorted(training_summaries.charts(training_summaries.read_runs(runs))) == [
      "training_curves.png"]


def test_bad_model_dirs(tmp_path):
  with pytest.raises(InputError, match="no TensorBoard event files"):
    training_summaries.read_runs({"x": str(tmp_path)})
  with pytest.raises(InputError, match="given twice"):
    training_summaries.parse_model_dirs(["a/run", "b/run"])
  assert training_summaries.parse_model_dirs(["/x/run1", "y=/x/run2"]) == {
      "run1": "/x/run1", "y": "/x/run2"}
