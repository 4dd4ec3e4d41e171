"""The evaluation's report: metrics.json, metrics.md (markdown tables) and PNG bar charts."""

from __future__ import annotations

import json

from pipelines.io import sharded_io
from pipelines.io.file_system import FileSystems
from pipelines.errors import InputError
from pipelines.evaluation import training_summaries


def retrieval_keys(ndcg_k: int = 60, map_k: int = 60) -> tuple:
  """The headline retrieval metrics, in table order: MAP@k, then NDCG@k.

  Args:
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.

  Returns:
    ("map@<map_k>", "ndcg@<ndcg_k>").
  """
  return (f"map@{map_k}", f"ndcg@{ndcg_k}")


def markdown_table(result: dict, ndcg_k: int = 60, map_k: int = 60) -> str:
  """metrics.md: the retrieval table, then annotation and margins when present.

  Args:
    result: the metrics.json dictionary.
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.

  Returns:
    Markdown text ending with a newline.
  """
  keys = retrieval_keys(ndcg_k, map_k)
  lines = [f"| model | MAP@{map_k} | NDCG@{ndcg_k} | queries | database |",
           "|---|---:|---:|---:|---:|"]
  for name, row in result["retrieval"].items():
    lines.append(f"| {name} | " + " | ".join(f"{row[k]:.4f}" for k in keys) +
                 f" | {row['num_queries']} | {row['num_database']} |")
  search = result.get("search", {"kind": "exact"})
  if search["kind"] != "exact":
    lines += ["", f"Ranked lists: each query's top {max(ndcg_k, map_k) + 1} candidates from "
              f"a faiss {search['kind']} index (nprobe {search['nprobe']}), re-ranked by exact "
              "cosine; a relevant item not among them counts as a miss. The whole-list MAP "
              "(`map_full_list`) needs every item's rank, so metrics.json has it as null."]
  if "annotation" in result:
    lines += ["", "| model | GAP@20 | MAP | Hit@1 | Hit@5 |", "|---|---:|---:|---:|---:|"]
    for name, row in result["annotation"].items():
      lines.append(f"| {name} | " + " | ".join(
          f"{row[k]:.4f}" for k in ("gap@20", "map", "hit@1", "hit@5")) + " |")
  margins = training_summaries.margin_markdown(result.get("training", {}))
  if margins:
    lines += ["", margins.rstrip("\n")]
  return "\n".join(lines) + "\n"


def bar_chart_png(title: str, values: dict[str, float]) -> bytes:
  """A bar chart of one metric per model (matplotlib, Agg, no timestamp).

  Args:
    title: the chart's title.
    values: model name -> value.

  Returns:
    PNG bytes.
  """
  fig = training_summaries.figure(figsize=(1.6 + 1.4 * len(values), 3), dpi=100)
  ax = fig.subplots()
  names = list(values)
  colors = ["tab:blue", "tab:gray", "tab:orange"]
  bars = ax.bar(names, [values[n] for n in names], color=colors[:len(names)])
  ax.bar_label(bars, fmt="%.4f")
  ax.set_title(title)
  ax.set_ylim(0, max(1e-9, max(values.values())) * 1.2)
  return training_summaries.png_bytes(fig)



def write_outputs(output_dir: str, result: dict, ndcg_k: int,
                  training_charts: dict | None = None, map_k: int = 60) -> list[str]:
  """Writes metrics.json, metrics.md and the charts (atomic writes).

  Args:
    output_dir: the folder (local or gs://).
    result: the metrics.json dictionary.
    ndcg_k: the k of NDCG@k.
    training_charts: file name -> PNG bytes (training summaries).
    map_k: the k of MAP@k.

  Returns:
    The paths written.

  Raises:
    InputError: a file cannot be written (one line).
  """
  paths = []

  def put(name, data: bytes):
    path = FileSystems.join(output_dir, name)
    try:
      sharded_io.atomic_write(path, data)
    except OSError as e:
      raise InputError(f"--output_dir: cannot write {path}: {e.strerror or e}") from None
    paths.append(path)

  put("metrics.json", (json.dumps(result, indent=2, sort_keys=True) + "\n").encode())
  put("metrics.md", markdown_table(result, ndcg_k, map_k).encode())
  for key in retrieval_keys(ndcg_k, map_k):
    title = key.upper()
    values = {name: row[key] for name, row in result["retrieval"].items()}
    put(key.replace("@", "_at_") + ".png", bar_chart_png(f"{title} (cold-start retrieval)",
                                                         values))
  for key, title in (("gap@20", "GAP@20"), ("map", "MAP"), ("hit@1", "Hit@1"),
                     ("hit@5", "Hit@5")):
    if "annotation" in result:
      values = {name: row[key] for name, row in result["annotation"].items()}
      put("annotation_" + key.replace("@", "_at_") + ".png",
          bar_chart_png(f"{title} (annotation)", values))
  for name, png in (training_charts or {}).items():
    put(name, png)
  return paths

