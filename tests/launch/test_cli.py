"""The `gcml` command: dispatch, usage, and the demo end to end."""

import json
import os

import pytest

from launch import bench, main as gcml


def test_usage_lists_subcommands(capsys):
  assert gcml.main([]) == 2
  assert gcml.main(["--help"]) == 0
  out = capsys.readouterr().out
  for name in ("synth", "validate", "cluster", "examples", "train", "demo", "bench"):
    assert f"  {name}" in out


def test_closed_pipe_is_not_a_traceback():
  """`gcml --help | head -1`: the reader leaves early; no BrokenPipeError."""
  import subprocess
  import sys
  read, write = os.pipe()
  os.close(read)  # nobody reads: the first write fails with EPIPE
  proc = subprocess.run([sys.executable, "-c", "import sys; from launch.main import main; "
                         "sys.exit(main(['--help']))"], stdout=write,
                        stderr=subprocess.PIPE, text=True, timeout=120,
                        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
  os.close(write)
  assert "Traceback" not in proc.stderr, proc.stderr
  assert proc.returncode == 141


def test_unknown_subcommand(capsys):
  assert gcml.main(["frobnicate"]) == 2
  assert "unknown subcommand 'frobnicate'" in capsys.readouterr().err


def test_bench_lists_and_rejects_unknown(capsys):
  assert "synth" in bench.available()
  assert gcml.main(["bench", "no_such_benchmark"]) == 2
  assert "no benchmark 'no_such_benchmark'" in capsys.readouterr().err


def test_synth_bad_flags_one_line(tmp_path, capsys):
  assert gcml.main(["synth", f"--output_dir={tmp_path}", "--branching=3,1,4"]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("gcml synth: error: --branching") and "\n" not in err


@pytest.mark.slow
def test_demo_runs_every_stage_and_reruns_cleanly_on_beam(tmp_path, capsys):
  out = str(tmp_path / "demo")
  argv = ["demo", f"--output_dir={out}", "--num_items=800", "--runner=FnApiRunner",
          "--train_steps=10"]
  assert gcml.main(argv + ["--methods=all"]) == 0
  printed = capsys.readouterr().out
  assert "[1/" in printed and "demo: done in" in printed
  with open(os.path.join(out, "validate", "summary.json"), encoding="utf-8") as f:
    first = json.load(f)
  assert first["validate"]["features/valid_items"] == 800
  assert os.path.exists(os.path.join(out, "cluster", "cluster_sizes.png"))
  with open(os.path.join(out, "cluster", "summary.json"), encoding="utf-8") as f:
    levels = json.load(f)["cluster"]["level_stats"]
  assert len(levels) == 3 and levels[0]["clusters"] > levels[2]["clusters"]
  with open(os.path.join(out, "report", "report.md"), encoding="utf-8") as f:
    report = f.read()
  for method in ("contrastive", "GCML", "CDML", "CLC", "raw content features"):
    assert method in report
  assert os.path.exists(os.path.join(out, "report", "retrieval.png"))
  for png in ("usage_ratio.png", "training_curves.png"):  # from the trainers' summaries
    assert f"]({png})" in report and os.path.exists(os.path.join(out, "report", png))
  assert "| GCML | early |" in report and "| CDML | late |" in report  # margin table
  assert "report: " in printed and "Best retrieval MAP@60" in printed
  assert "Primary model, contrastive (in-batch softmax, identity tower): test MAP@60" in printed
  # Model selection: every method validated and exported its best step.
  assert "best validation MAP@60" in printed
  assert "| exported step | validation MAP@60 |" in report
  assert "](validation.png)" in report and os.path.exists(os.path.join(out, "report",
                                                                         "validation.png"))
  for method in ("contrastive", "gcml", "cdml", "clc"):
    with open(os.path.join(out, "train", method, "validation.json"), encoding="utf-8") as f:
      state = json.load(f)
    assert state["history"][0][0] == 0 and state["best_step"] in [s for s, _ in state["history"]]
  # The rerun on the Beam engines (the primary method only: training is engine-blind)
  # replaces every result, with the same stage outputs.
  assert gcml.main(argv + ["--engine=beam", "--methods=contrastive"]) == 0
  with open(os.path.join(out, "validate", "summary.json"), encoding="utf-8") as f:
    assert json.load(f) == first
  assert sorted(os.listdir(os.path.join(out, "train"))) == ["contrastive"]
  assert sorted(os.listdir(os.path.join(out, "examples"))) == ["smart", "validation"]
  with open(os.path.join(out, "report", "report.md"), encoding="utf-8") as f:
    report = f.read()
  assert "Primary model, contrastive" in report and "CDML" not in report
