"""Tables and plots of `gcml bench compare`: mean ± spread over seeds per method.

Inputs are the per-world results of `compare_methods.run_world`, grouped as
`{preset: [world result, ...]}` (one per seed). Spreads are sample standard
deviations over seeds. A comparison is paired: each seed's worlds are the
same for both sides (learned vs raw features, GCML vs CDML), so the report
gives the per-seed difference's mean and spread and calls a side better
only when the mean difference exceeds its spread (mean - std > 0).
"""

from __future__ import annotations

import os

import numpy as np


def _stats(values: list[float]) -> tuple[float, float]:
  values = [float(v) for v in values]
  return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _verdict(diffs: list[float]) -> str:
  mean, std = _stats(diffs)
  if len(diffs) < 2:
    return "one seed"
  return "above" if mean - std > 0 else "below" if mean + std < 0 else "within spread"


def summarize(worlds: list[dict], metric: str = "map@60") -> dict:
  """Per method: mean, std, the paired difference to raw features, selected steps.

  Args:
    worlds: run_world results of one preset, one per seed.
    metric: the score to summarise.

  Returns:
    {"raw": (mean, std), "seeds": n, "methods": {name: {...}}}, in method order.
  """
  raw = [w["raw"][metric] for w in worlds]
  names = [n for n in worlds[0]["methods"] if all(n in w["methods"] for w in worlds)]
  out = {"raw": _stats(raw), "seeds": len(worlds), "methods": {}}
  for name in names:
    vals = [w["methods"][name][metric] for w in worlds]
    diffs = [v - r for v, r in zip(vals, raw)]
    out["methods"][name] = {
        "score": _stats(vals), "vs_raw": _stats(diffs), "verdict_vs_raw": _verdict(diffs),
        "ndcg@60": _stats([w["methods"][name]["ndcg@60"] for w in worlds]),
        "ndcg_vs_raw": _stats([w["methods"][name]["ndcg@60"] - w["raw"]["ndcg@60"]
                               for w in worlds]),
        "steps": [w["methods"][name]["best_step"] for w in worlds]}
  return out


def paired(worlds: list[dict], a: str, b: str, metric: str = "map@60") -> str | None:
  """'a - b = mean ± std (verdict)' over the seeds that ran both, or None."""
  both = [w for w in worlds if a in w["methods"] and b in w["methods"]]
  if not both:
    return None
  diffs = [w["methods"][a][metric] - w["methods"][b][metric] for w in both]
  mean, std = _stats(diffs)
  return f"{mean:+.4f} ± {std:.4f} ({_verdict(diffs)})"


def preset_table(name: str, worlds: list[dict]) -> str:
  """The markdown table of one preset."""
  s = summarize(worlds)
  lines = [f"### {name} ({s['seeds']} seeds)", "",
           "| method | MAP@60 | MAP@60 - raw (paired) | vs raw | NDCG@60 | NDCG@60 - raw "
           "(paired) | selected steps |", "|---|---|---|---|---|---|---|",
           f"| raw features | {s['raw'][0]:.4f} ± {s['raw'][1]:.4f} | | | "
           f"{_stats([w['raw']['ndcg@60'] for w in worlds])[0]:.4f} ± "
           f"{_stats([w['raw']['ndcg@60'] for w in worlds])[1]:.4f} | | |"]
  for method, v in s["methods"].items():
    lines.append(f"| {method} | {v['score'][0]:.4f} ± {v['score'][1]:.4f} | "
                 f"{v['vs_raw'][0]:+.4f} ± {v['vs_raw'][1]:.4f} | {v['verdict_vs_raw']} | "
                 f"{v['ndcg@60'][0]:.4f} ± {v['ndcg@60'][1]:.4f} | "
                 f"{v['ndcg_vs_raw'][0]:+.4f} ± {v['ndcg_vs_raw'][1]:.4f} | "
                 f"{', '.join(str(x) for x in v['steps'])} |")
  pairs = [("gcml_l0", "cdml"), ("gcml_l0:nomine", "cdml:nomine"), ("cdml", "cdml:nomine"),
           ("gcml_l0", "gcml_l0:nomine"), ("mixed", "gcml_l0"), ("curriculum", "gcml_l0"),
           ("cdml_identity", "cdml"), ("cdml_identity_pull0.01", "cdml_identity"),
           ("cdml_identity_pull0.001", "cdml_identity"),
           ("contrastive_identity", "cdml_identity")]
  notes = [f"- {a} - {b}: {d}" for a, b in pairs if (d := paired(worlds, a, b))]
  if notes:
    lines += ["", "Paired differences in MAP@60 (per seed, mean ± std):", "", *notes]
  return "\n".join(lines) + "\n"


def annotation_table(worlds: list[dict]) -> str:
  """The annotation metrics (`--annotation_steps`), paired against raw features; '' if none."""
  if not all("annotation" in w["raw"] for w in worlds):
    return ""
  raw = [w["raw"]["annotation"] for w in worlds]
  lines = ["| method | GAP@20 | GAP@20 - raw (paired) | vs raw | Hit@1 |", "|---|---|---|---|---|",
           f"| raw features | {_stats([r['gap@20'] for r in raw])[0]:.4f} ± "
           f"{_stats([r['gap@20'] for r in raw])[1]:.4f} | | | "
           f"{_stats([r['hit@1'] for r in raw])[0]:.4f} |"]
  for name in worlds[0]["methods"]:
    if not all("annotation" in w["methods"].get(name, {}) for w in worlds):
      continue
    got = [w["methods"][name]["annotation"] for w in worlds]
    diffs = [g["gap@20"] - r["gap@20"] for g, r in zip(got, raw)]
    gap, d = _stats([g["gap@20"] for g in got]), _stats(diffs)
    lines.append(f"| {name} | {gap[0]:.4f} ± {gap[1]:.4f} | {d[0]:+.4f} ± {d[1]:.4f} | "
                 f"{_verdict(diffs)} | {_stats([g['hit@1'] for g in got])[0]:.4f} |")
  return "Annotation (the papers' classifier on train items, scored on test items):\n\n" + \
      "\n".join(lines) + "\n"


def negatives_table(worlds: list[dict]) -> str:
  """Mean shares (over seeds) of negatives in the anchor's planted groups, per method."""
  have = [w["negatives"] for w in worlds if w.get("negatives")]
  if not have:
    return ""
  cols = ("same_topic", "same_subtopic", "same_micro", "joined_by_edge")
  lines = ["Where each method's negatives sit in the planted truth (share of triplets, mean "
           "over seeds):", "", "| method | same topic | same subtopic | same micro-cluster | "
           "edge to anchor |", "|---|---|---|---|---|"]
  for method in [m for m in have[0] if m in worlds[0]["methods"]]:
    vals = [float(np.mean([h[method][c] for h in have if method in h])) for c in cols]
    lines.append(f"| {method} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
  return "\n".join(lines) + "\n"


def plot_preset(path: str, name: str, worlds: list[dict]) -> None:
  """Bars (mean ± std test MAP@60) per method, the raw features as a line."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  s = summarize(worlds)
  names = list(s["methods"])
  fig, ax = plt.subplots(figsize=(1.2 + 0.75 * len(names), 3.2), dpi=80)
  ax.bar(names, [s["methods"][n]["score"][0] for n in names],
         yerr=[s["methods"][n]["score"][1] for n in names], capsize=3,
         color=["tab:orange" if n.startswith("cdml") else "tab:blue" for n in names])
  ax.axhline(s["raw"][0], color="gray", linestyle="--", label="raw features")
  low = min([s["raw"][0]] + [s["methods"][n]["score"][0] for n in names])
  ax.set_ylim(low * 0.8, None)
  ax.set_ylabel("test MAP@60")
  ax.set_title(f"{name}: {s['seeds']} seeds, mean ± std")
  ax.legend(fontsize=8)
  plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def plot_curves(path: str, name: str, worlds: list[dict], batch_size: int,
                methods: list[str] | None = None) -> None:
  """Validation MAP@60 against training examples seen (step x batch), mean over seeds."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(6, 3.4), dpi=80)
  names = methods or [n for n in worlds[0]["methods"] if "validation_curve" in
                      worlds[0]["methods"][n]]
  for method in names:
    curves = [w["methods"][method]["validation_curve"] for w in worlds
              if "validation_curve" in w["methods"].get(method, {})]
    if not curves:
      continue
    n = min(len(c) for c in curves)
    steps = [c[0] for c in curves[0][:n]]
    mean = np.mean([[c[i][1] for i in range(n)] for c in curves], axis=0)
    ax.plot([st * batch_size for st in steps], mean, marker=".", label=method,
            linestyle="--" if method.endswith(":nomine") else "-")
  raws = [w["methods"][m]["validation_raw"] for w in worlds for m in w["methods"]
          if "validation_raw" in w["methods"][m]]
  if raws:
    ax.axhline(float(np.mean(raws)), color="gray", linestyle=":", label="raw features")
  ax.set_xlabel("training examples seen (steps x batch)")
  ax.set_ylabel("validation MAP@60")
  ax.set_title(f"{name}: validation curve, mean over seeds")
  ax.legend(fontsize=7, ncol=2)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def plot_sweep(path: str, sweep: dict) -> None:
  """Test MAP@60 (mean ± std) against batch size at equal examples seen, per method."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(5, 3.2), dpi=80)
  sizes = sorted(sweep, key=int)
  methods = list(summarize(sweep[sizes[0]])["methods"])
  for method in methods:
    stats = [summarize(sweep[b])["methods"][method]["score"] for b in sizes]
    ax.errorbar([int(b) for b in sizes], [m for m, _ in stats], yerr=[s for _, s in stats],
                marker="o", capsize=3, label=method)
  ax.axhline(summarize(sweep[sizes[0]])["raw"][0], color="gray", linestyle="--",
             label="raw features")
  ax.set_xscale("log", base=2)
  ax.set_xlabel("batch size (equal examples seen)")
  ax.set_ylabel("test MAP@60")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def write_report(root: str, header: str, presets: dict, batch_size: int,
                 sweep: dict | None = None) -> str:
  """report.md and the PNGs under `root`; returns the report's text."""
  parts = [header, ""]
  for name, worlds in presets.items():
    if not worlds:
      continue
    parts.append(preset_table(name, worlds))
    parts.append(annotation_table(worlds))
    parts.append(negatives_table(worlds))
    plot_preset(os.path.join(root, f"compare_{name}.png"), name, worlds)
    plot_curves(os.path.join(root, f"curves_{name}.png"), name, worlds, batch_size)
    parts.append(f"![{name}](compare_{name}.png) ![{name} curves](curves_{name}.png)\n")
  if sweep:
    parts.append("### batch-size sweep (equal examples seen)\n")
    for b in sorted(sweep, key=int):
      parts.append(preset_table(f"batch {b}", sweep[b]))
    plot_sweep(os.path.join(root, "sweep.png"), sweep)
    parts.append("![sweep](sweep.png)\n")
  text = "\n".join(parts)
  with open(os.path.join(root, "report.md"), "w", encoding="utf-8") as f:
    f.write(text)
  return text
