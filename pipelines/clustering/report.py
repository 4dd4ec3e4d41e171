"""The cluster stage's summary: size quantiles per level, round health, the size plot.

Read back from the written `cluster_sizes-*.tsv` (`io/cluster_tables/reader.py`), so
both engines report from the same bytes; `finish_summary` writes the `cluster`
section of summary.json and `cluster_sizes.png`.
"""

import io
import logging
import math

from pipelines.io.file_system import FileSystems

from pipelines.clustering import COLLAPSE_SHARE, STAGE, choose_first_round
from pipelines.io import sharded_io, summary
from pipelines.io.cluster_tables.reader import read_histogram

QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def level_summary(pairs: list, edges_left: int) -> dict:
  """Clusters, singletons, size quantiles (nearest rank) and edges left of one level.

  Args:
    pairs: the level's (size, clusters) histogram, sorted by size.
    edges_left: edges between the level's clusters.

  Returns:
    The level's section of the summary.
  """
  total = sum(n for _, n in pairs)
  quantiles, seen, wanted = {}, 0, [(name, math.ceil(p * total)) for name, p in QUANTILES]
  for size, n in pairs:
    seen += n
    for name, rank in wanted:
      if name not in quantiles and seen >= rank:
        quantiles[name] = size
  sizes = {"min": pairs[0][0] if pairs else 0, **{k: quantiles.get(k, 0) for k, _ in QUANTILES},
           "max": pairs[-1][0] if pairs else 0}
  return {"clusters": total, "singletons": dict(pairs).get(1, 0), "size": sizes,
          "edges_left": edges_left}


def plot_sizes(output_dir: str, hist: dict) -> str:
  """cluster_sizes.png: clusters per size, log-log, one line per level.

  Args:
    output_dir: the stage's output folder.
    hist: {level: (size, clusters) pairs}.

  Returns:
    The plot's path.
  """
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
  for level, pairs in hist.items():
    ax.loglog([s for s, _ in pairs], [n for _, n in pairs], marker="o", markersize=3,
              linewidth=1, label=f"L{level}: {sum(n for _, n in pairs)} clusters")
  ax.set_xlabel("cluster size (items)")
  ax.set_ylabel("clusters of that size")
  ax.set_title("Affinity clustering: cluster sizes per level")
  ax.grid(True, which="both", alpha=0.3)
  if hist:
    ax.legend()
  data = io.BytesIO()
  fig.savefig(data, format="png", metadata={"Software": None})
  plt.close(fig)
  path = FileSystems.join(output_dir, "cluster_sizes.png")
  sharded_io.atomic_write(path, data.getvalue())
  return path


def round_summaries(counts: dict, items: int, rounds: int) -> list:
  """Per round built: clusters, mean size, nodes merged and edges left (pops `rounds/*`).

  Args:
    counts: the run's counters; the `rounds/*` ones are removed.
    items: items in the graph.
    rounds: rounds built.

  Returns:
    One dict per round.
  """
  stats = {}
  for key in [k for k in counts if k.startswith("rounds/")]:
    _, r, name = key.split("/")
    stats.setdefault(int(r), {})[name] = counts.pop(key)
  out, clusters = [], items
  for r in range(1, rounds + 1):
    merged = stats.get(r, {}).get("merged", 0)
    clusters -= merged
    out.append({"round": r, "clusters": clusters, "merged": merged,
                "mean_size": round(items / clusters, 3) if clusters else 0.0,
                "edges_left": stats.get(r, {}).get("edges_left", 0)})
  return out


def level_health(level: int, stats: dict, round_stats: dict, items: int) -> dict:
  """Collapse (one cluster over COLLAPSE_SHARE of the items) and no-change flags, logged.

  Args:
    level: the level.
    stats: its `level_summary`.
    round_stats: the round it was taken from.
    items: items in the graph.

  Returns:
    {`collapsed`: bool, `unchanged`: bool}.
  """
  share = stats["size"]["max"] / items if items else 0.0
  health = {"round": round_stats["round"], "largest_share": round(share, 4),
            "collapsed": share > COLLAPSE_SHARE, "unchanged": round_stats["merged"] == 0}
  if health["collapsed"]:
    logging.warning("cluster: level L%d collapsed: its largest cluster holds %d of %d items "
                    "(%.1f%%); try --similarity=jaccard|adamic_adar, --linkage=average or "
                    "--max_cluster_size", level, stats["size"]["max"], items, 100 * share)
  if health["unchanged"]:
    logging.warning("cluster: level L%d (round %d) changed nothing: it equals the round "
                    "before (%d edges left)", level, round_stats["round"],
                    round_stats["edges_left"])
  return health


def finish_summary(output_dir: str, counts: dict, settings: dict) -> dict:
  """Writes the `cluster` section of summary.json and the plot; returns the section.

  Args:
    output_dir: the stage's output folder.
    counts: the run's counters (edges, rejections, rounds).
    settings: the run's settings, recorded as given.

  Returns:
    The `cluster` section.
  """
  counts = dict(counts)
  counts.pop("items", None)
  for name in ("edges/under_min_weight",) + (
      ("edges/touching_test",) if settings["split"].get("clustered_edges") == "train_train"
      else ()):
    counts.setdefault(name, 0)
  hist = read_histogram(output_dir)
  items = sum(s * n for s, n in hist.get(0, []))
  rounds = round_summaries(counts, items, settings["rounds"])
  searched = settings["rounds"] - settings["levels"] + 1
  first = choose_first_round(items, [r["merged"] for r in rounds[:searched]],
                             settings["first_round"], settings["target_l0_size"])
  levels = []
  for level in range(settings["levels"]):
    round_stats = rounds[first - 1 + level]
    stats = dict(level=level, **level_summary(hist.get(level, []), round_stats["edges_left"]))
    stats.update(level_health(level, stats, round_stats, items))
    levels.append(stats)
  section = dict(sorted(counts.items()))
  section.update(settings)
  section["items"] = items
  section["l0_round"] = first
  section["rounds_stats"] = rounds
  section["level_stats"] = levels
  summary.update_summary(output_dir, STAGE, section)
  plot_sizes(output_dir, hist)
  return section
