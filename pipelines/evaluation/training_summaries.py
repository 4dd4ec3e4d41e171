"""Training curves and margin statistics from the trainer's TensorBoard events.

`gcml train` (`model/trainer.py`) writes scalars (`tf.summary.write` with
the `scalars` plugin metadata: the value is a float32 scalar tensor) to
`MODEL_DIR/train` every `--summary_every` steps (`MODEL_DIR/eval` holds
the evaluation scalars, not read here): `loss`, `learning_rate`,
`examples_per_second` and, for GCML triplets (`model/losses/triplet.py`),
`usage_ratio`, `no_semihard_fraction`, `active_fraction`,
`assigned_margin_mean/std` and `chosen_margin_mean/std`. TensorBoard is not
needed to read them: the event files are TFRecords of `tf.compat.v1.Event`.

`gcml evaluate --model_dir=[NAME=]DIR` uses this module for:

* `usage_ratio.png`: usage ratio vs step per run (the GCML paper, Figure 5);
* `training_curves.png`: loss and learning rate vs step per run;
* the margin table (the paper, Table 3): mean and std of the margins
  `d(a, n) - d(a, p)` of the assigned and of the chosen negatives, early
  (mean over the summaries in the first `WINDOW` of the logged steps) and
  late (the last `WINDOW`), with the usage ratio and the share of triplets
  without a semi-hard negative over the same windows.
"""

from __future__ import annotations

import io
import os

import numpy as np
from pipelines.io import inputs
from pipelines.io.file_system import FileSystems
from pipelines.errors import InputError

WINDOW = 0.1  # share of the logged steps that is "early" / "late"
MARGIN_TAGS = ("assigned_margin_mean", "assigned_margin_std", "chosen_margin_mean",
               "chosen_margin_std", "usage_ratio", "no_semihard_fraction")


def parse_model_dirs(values) -> dict[str, str]:
  """`--model_dir` values (repeated and/or comma-separated, `NAME=DIR` or `DIR`) -> name: dir.

  Args:
    values: the `--model_dir` flag values.

  Returns:
    Run name -> model folder.
  """
  runs = {}
  for value in values or ():
    for part in filter(None, (p.strip() for p in value.split(","))):
      name, _, path = part.rpartition("=")
      name = name or os.path.basename(os.path.normpath(path)) or path
      if name in runs:
        raise InputError(f"--model_dir: the name {name!r} is given twice (use NAME=DIR)")
      runs[name] = path
  return runs


def event_files(model_dir: str, subdir: str = "train") -> list[str]:
  """The event files of `model_dir/subdir` (or of `model_dir` itself), in name order.

  Args:
    model_dir: a training run's folder.
    subdir: its summaries' subfolder (`train`, `eval`).

  Returns:
    The event file paths.
  """
  for folder in (FileSystems.join(model_dir, subdir), model_dir):
    pattern = FileSystems.join(folder, "events.out.tfevents.*")
    paths = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
    if paths:
      return paths
  raise InputError(f"--model_dir: no TensorBoard event files in {model_dir}/{subdir} "
                   f"or {model_dir}")


def read_scalars(paths) -> dict[str, list[tuple[int, float]]]:
  """tag -> [(step, value)] sorted by step.

  A step logged twice (a job restarted from an older checkpoint) keeps the
  value with the latest wall time (then the latest in file order).

  Args:
    paths: event files.

  Returns:
    Tag -> [(step, value)] sorted by step.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  by_tag: dict[str, dict[int, tuple]] = {}
  for seq, data in enumerate(inputs.tfrecords(list(paths))):
    event = tf.compat.v1.Event.FromString(data)
    if not event.HasField("summary"):
      continue
    for value in event.summary.value:
      if value.HasField("tensor"):
        array = tf.make_ndarray(value.tensor)
        if array.size != 1 or not np.issubdtype(array.dtype, np.number):
          continue
        number = float(array.reshape(()))
      elif value.HasField("simple_value"):
        number = float(value.simple_value)
      else:
        continue
      points = by_tag.setdefault(value.tag, {})
      points[int(event.step)] = max(points.get(int(event.step), (-np.inf, -1, 0.0)),
                                    (event.wall_time, seq, number))
  return {tag: [(step, v[2]) for step, v in sorted(points.items())]
          for tag, points in sorted(by_tag.items())}


def read_runs(runs: dict[str, str]) -> dict[str, dict]:
  """name -> {tag: [(step, value)]} for each `--model_dir` run.

  Args:
    runs: run name -> model folder.

  Returns:
    Run name -> {tag: [(step, value)]}.
  """
  return {name: read_scalars(event_files(path)) for name, path in runs.items()}


def _window_mean(points, first: bool) -> float | None:
  if not points:
    return None
  steps = np.array([s for s, _ in points], np.float64)
  values = np.array([v for _, v in points], np.float64)
  lo, hi = steps.min(), steps.max()
  span = WINDOW * (hi - lo)
  mask = steps <= lo + span if first else steps >= hi - span
  return float(values[mask].mean())


def margin_table(scalars: dict) -> dict | None:
  """{"early"|"late": {tag: mean over the window}, "steps": [first, last]}; None if not GCML.

  Args:
    scalars: one run's scalars.

  Returns:
    {"early"
    "late": {tag: mean over the window}, "steps": [first, last]}, or None.
  """
  if "assigned_margin_mean" not in scalars:
    return None
  table = {}
  for when, first in (("early", True), ("late", False)):
    table[when] = {tag: _window_mean(scalars.get(tag, []), first) for tag in MARGIN_TAGS}
  steps = [s for s, _ in scalars["assigned_margin_mean"]]
  table["steps"] = [min(steps), max(steps)]
  return table


def training_section(runs: dict[str, str], scalars: dict[str, dict]) -> dict:
  """The `training` section of metrics.json.

  Args:
    runs: run name -> model folder.
    scalars: run name -> its scalars (`read_runs`).

  Returns:
    The section.
  """
  out = {}
  for name, path in runs.items():
    tags = scalars[name]
    last = {tag: points[-1][1] for tag, points in tags.items() if points}
    out[name] = {"model_dir": path,
                 "last_step": max((p[-1][0] for p in tags.values() if p), default=0),
                 "last": last,
                 "margins": margin_table(tags)}
  return out


def _fmt(value) -> str:
  return "" if value is None else f"{value:.4f}"


def margin_markdown(section: dict) -> str:
  """Markdown: the paper's Table 3 per GCML run (empty when no run has margins).

  Args:
    section: the `training` section.

  Returns:
    The markdown.
  """
  lines = ["| model | phase | steps | assigned mean | assigned std | chosen mean | chosen std "
           "| usage ratio | no semi-hard |", "|---|---|---|" + "---:|" * 6]
  rows = 0
  for name, run in section.items():
    table = run["margins"]
    if not table:
      continue
    for when in ("early", "late"):
      t = table[when]
      lines.append(f"| {name} | {when} | {table['steps'][0 if when == 'early' else 1]} | " +
                   " | ".join(_fmt(t[k]) for k in MARGIN_TAGS) + " |")
      rows += 1
  if not rows:
    return ""
  return ("Margins `d(a,n) - d(a,p)` of the assigned and chosen negatives (mean over the "
          f"first / last {WINDOW:.0%} of the logged steps):\n\n" + "\n".join(lines) + "\n")


def figure(**kwargs):
  """A matplotlib `Figure` drawn by Agg, without pyplot (half its import time, no
  figure manager to close; the same pixels as `plt.subplots`).

  Args:
    **kwargs: `Figure`'s arguments (`figsize`, `dpi`).

  Returns:
    The Figure.
  """
  from matplotlib.figure import Figure  # pylint: disable=import-outside-toplevel
  return Figure(**kwargs)


def png_bytes(fig) -> bytes:
  """A figure laid out tightly, as PNG bytes without the `Software` stamp.

  Args:
    fig: a matplotlib Figure.

  Returns:
    PNG bytes.
  """
  fig.tight_layout()
  buf = io.BytesIO()
  fig.savefig(buf, format="png", metadata={"Software": None})
  return buf.getvalue()


def curves_png(scalars: dict[str, dict], tags: tuple, titles: tuple) -> bytes | None:
  """One panel per tag, one line per run; None when no run logged any of the tags.

  Args:
    scalars: run name -> its scalars.
    tags: the tags to plot.
    titles: each panel's title.

  Returns:
    The PNG bytes, or None.
  """
  if not any(t in run for run in scalars.values() for t in tags):
    return None
  fig = figure(figsize=(5.5 * len(tags), 3.6), dpi=100)
  axes = fig.subplots(1, len(tags), squeeze=False)[0]
  for ax, tag, title in zip(axes, tags, titles):
    for name, run in scalars.items():
      if run.get(tag):
        steps, values = zip(*run[tag])
        ax.plot(steps, values, label=name, marker="." if len(steps) < 30 else None)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    if ax.has_data():
      ax.legend(fontsize=8)
  return png_bytes(fig)


def charts(scalars: dict[str, dict]) -> dict[str, bytes]:
  """File name -> PNG: usage_ratio.png (GCML runs only) and training_curves.png.

  Args:
    scalars: run name -> its scalars.

  Returns:
    File name -> PNG bytes.
  """
  out = {}
  usage = curves_png({n: r for n, r in scalars.items() if "usage_ratio" in r},
                     ("usage_ratio",), ("Usage ratio (chosen negative = assigned)",))
  if usage:
    out["usage_ratio.png"] = usage
  curves = curves_png(scalars, ("loss", "learning_rate"), ("Training loss", "Learning rate"))
  if curves:
    out["training_curves.png"] = curves
  return out
