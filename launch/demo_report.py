"""The demo's report: one table and chart comparing the methods with raw features.

Reads each method's `evaluate/<method>/metrics.json` (retrieval on the
cold-start split, the papers' protocol), writes `report/report.md` and
`report/retrieval.png`, and returns a one-paragraph reading of the numbers.
"""

import json
import os

from pipelines.io import sharded_io
from pipelines.evaluation import training_summaries

NAMES = {"contrastive": "contrastive (in-batch softmax, identity tower)",
         "gcml": "GCML (smart negatives, L0)", "cdml": "CDML (random negatives)",
         "clc": "CLC (cluster labels)", "raw_features": "raw content features"}


def collect(evaluate_dir: str, methods: list[str]) -> dict:
  """The retrieval metrics of every method, plus raw features from the first method's run.

  Args:
    evaluate_dir: the demo's evaluation folder (one `METHOD/metrics.json` each).
    methods: the methods, in the table's order.

  Returns:
    method (and `raw_features`) -> {'map@60': .., 'ndcg@60': ..}.
  """
  rows, raw = {}, None
  for method in methods:
    with open(os.path.join(evaluate_dir, method, "metrics.json"), encoding="utf-8") as f:
      retrieval = json.load(f)["retrieval"]
    rows[method] = retrieval["embeddings"]
    raw = raw or retrieval["raw_features"]
  rows["raw_features"] = raw
  return rows


def reading(rows: dict, primary: str | None = None, train_dir: str | None = None) -> str:
  """A plain-language paragraph: the primary model against raw features, then
  which orderings of the papers hold here.

  Args:
    rows: `collect`'s table.
    primary: the method the demo trains as its main model (None: no lead).
    train_dir: the training runs' folder: the primary's exported step, from
      its `validation.json` (None: not named).

  Returns:
    The paragraph.
  """
  m = {k: v["map@60"] for k, v in rows.items()}
  best = max(m, key=m.get)
  checks = []
  if "gcml" in m and "cdml" in m:
    checks.append(f"GCML {'beats' if m['gcml'] > m['cdml'] else 'does not beat'} CDML "
                  f"(MAP@60 {m['gcml']:.4f} vs {m['cdml']:.4f})")
  learned = [k for k in m if k != "raw_features"]
  above = [k for k in learned if m[k] > m["raw_features"]]
  checks.append(f"{len(above)} of {len(learned)} learned models beat raw features "
                f"(MAP@60 {m['raw_features']:.4f})")
  lead = ""
  if primary in m:
    lead = (f"Primary model, {NAMES.get(primary, primary)}: test MAP@60 {m[primary]:.4f} vs "
            f"raw features {m['raw_features']:.4f} ({m[primary] - m['raw_features']:+.4f})")
    state = os.path.join(train_dir or "", primary, "validation.json")
    if train_dir and os.path.exists(state):
      with open(state, encoding="utf-8") as f:
        selected = json.load(f)
      lead += (f", exported step {selected['best_step']} (validation MAP@60 "
               f"{selected['best']:.4f}, raw {selected['raw']:.4f})")
    lead += ". "
  return (lead + f"Best retrieval MAP@60: {NAMES.get(best, best)} ({m[best]:.4f}). "
          + "; ".join(checks) + ". These are short demo-size runs on a synthetic world, "
          "so they show the pipeline working end to end, not the papers' effect sizes.")


def _training(output_dir: str, training_dir: str | None) -> list[str]:
  """The training curves and margin table written by `gcml evaluate --model_dir`."""
  if not training_dir:
    return []
  lines = []
  for png, title in (("usage_ratio.png", "usage ratio of the negatives (GCML paper, Figure 5)"),
                     ("training_curves.png", "loss and learning rate")):
    src = os.path.join(training_dir, png)
    if os.path.exists(src):
      with open(src, "rb") as f:
        sharded_io.atomic_write(os.path.join(output_dir, png), f.read())
      lines += [f"### {title}", "", f"![{png}]({png})", ""]
  with open(os.path.join(training_dir, "metrics.json"), encoding="utf-8") as f:
    section = json.load(f).get("training", {})
  table = training_summaries.margin_markdown(section)
  if table:
    lines += ["### margins of assigned and chosen negatives (GCML paper, Table 3)", "", table, ""]
  return lines


def _validation(output_dir: str, train_dir: str | None) -> list[str]:
  """The validation curves (MAP@60 per validated step, raw features dashed) and the
  step each method exported (`model_dir/validation.json` of every run)."""
  if not train_dir or not os.path.isdir(train_dir):
    return []
  runs = {}
  for method in sorted(os.listdir(train_dir)):
    path = os.path.join(train_dir, method, "validation.json")
    if os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        runs[method] = json.load(f)
  if not runs:
    return []
  fig = training_summaries.figure(figsize=(7, 3.6), dpi=100)
  ax = fig.subplots()
  for i, (method, state) in enumerate(runs.items()):
    steps, values = zip(*state["history"])
    color = f"C{i}"
    ax.plot(steps, values, marker="o", color=color, label=NAMES.get(method, method))
    ax.axvline(state["best_step"], color=color, linestyle=":", linewidth=1)
  raw = next(iter(runs.values()))["raw"]
  ax.axhline(raw, color="gray", linestyle="--", label="raw content features")
  ax.set_xlabel("training step")
  ax.set_ylabel("validation MAP@60")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(output_dir, "validation.png"))
  lines = ["### model selection on the validation items", "",
           "| method | exported step | validation MAP@60 | raw features |", "|---|---:|---:|---:|"]
  lines += [f"| {NAMES.get(m, m)} | {s['best_step']} | {s['best']:.4f} | {s['raw']:.4f} |"
            for m, s in runs.items()]
  return lines + ["", "![validation](validation.png)", ""]


def write_report(output_dir: str, rows: dict, stage_times: dict, paragraph: str,
                 training_dir: str | None = None, train_dir: str | None = None) -> str:
  """Writes report.md and retrieval.png.

  Args:
    output_dir: the report's folder.
    rows: `collect`'s table.
    stage_times: stage name -> seconds.
    paragraph: `reading`'s paragraph.
    training_dir: an evaluation folder whose metrics carry the training
      summaries (`gcml evaluate --model_dir`), or None.
    train_dir: the training runs' folder, or None.

  Returns:
    The path of report.md.
  """
  os.makedirs(output_dir, exist_ok=True)
  names = list(rows)
  fig = training_summaries.figure(figsize=(11, 3.6), dpi=100)
  axes = fig.subplots(1, 2)
  for ax, key in zip(axes, ("map@60", "ndcg@60")):
    bars = ax.bar([NAMES.get(n, n).split(" (")[0] for n in names], [rows[n][key] for n in names],
                  color=[f"C{i}" for i in range(len(names) - 1)] + ["tab:gray"])
    ax.bar_label(bars, fmt="%.3f")
    ax.set_title(f"retrieval {key.upper()} (cold-start test items)")
    ax.set_ylim(0, max(rows[n][key] for n in names) * 1.25)
  fig.tight_layout()
  fig.savefig(os.path.join(output_dir, "retrieval.png"))
  lines = ["# gcml demo report", "", paragraph, "",
           "| method | MAP@60 | NDCG@60 | queries | database |", "|---|---:|---:|---:|---:|"]
  for n in names:
    r = rows[n]
    lines.append(f"| {NAMES.get(n, n)} | {r['map@60']:.4f} | {r['ndcg@60']:.4f} | "
                 f"{r['num_queries']} | {r['num_database']} |")
  lines += ["", "![retrieval](retrieval.png)", ""]
  lines += _validation(output_dir, train_dir)
  lines += _training(output_dir, training_dir)
  lines += ["| stage | seconds |", "|---|---:|"]
  lines += [f"| {k} | {v:.1f} |" for k, v in stage_times.items()]
  path = os.path.join(output_dir, "report.md")
  sharded_io.atomic_write(path, ("\n".join(lines) + "\n").encode())
  return path
