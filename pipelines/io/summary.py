"""Counts as data: every stage's figures land in `OUTPUT/summary.json`.

Stages emit `(name, count)` pairs as a PCollection (`stats`). `WriteStats`
sums them per name and writes one small JSON file; after the pipeline has run,
the driver calls `merge_stats_into_summary`, which folds that file into
`summary.json` under the stage's name (atomically) and removes it. Counting in
the data rather than only in Beam metrics keeps the figures exact on every
runner; the same counts also go to Beam metrics for progress.
"""

import json

from pipelines.io.file_system import FileSystems

from pipelines.io import sharded_io

SUMMARY_NAME = "summary.json"


def stats_prefix(output_dir: str, stage: str) -> str:
  """Where a stage's `WriteStats` file goes before it is folded into `summary.json`.

  Args:
    output_dir: the stage's output folder.
    stage: the stage's name.

  Returns:
    The stats file's prefix (`OUTPUT/.stats-STAGE`).
  """
  return FileSystems.join(output_dir, f".stats-{stage}")


def read_json(path: str) -> dict:
  """Reads a JSON file that may not exist yet.

  Args:
    path: a local or remote path.

  Returns:
    The parsed object, or {} when the file does not exist.
  """
  if not FileSystems.exists(path):
    return {}
  with FileSystems.open(path) as f:
    return json.loads(f.read().decode("utf-8"))


def update_summary(output_dir: str, stage: str, section: dict) -> dict:
  """Replaces the stage's section of `summary.json` (atomic write).

  Args:
    output_dir: the folder holding `summary.json`.
    stage: the section's name.
    section: the section's new content.

  Returns:
    The whole summary as written.
  """
  path = FileSystems.join(output_dir, SUMMARY_NAME)
  summary = read_json(path)
  summary[stage] = section
  sharded_io.atomic_write(path, (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode())
  return summary


def merge_stats_into_summary(output_dir: str, stage: str, extra: dict | None = None) -> dict:
  """Folds the stats file written by `WriteStats` into `summary.json`.

  Args:
    output_dir: the stage's output folder.
    stage: the stage's name (the section of `summary.json`).
    extra: more entries for the section (settings, timings), or None.

  Returns:
    The stage's section: {name: count} plus `extra`.
  """
  prefix = stats_prefix(output_dir, stage)
  counts = {}
  for m in FileSystems.match([sharded_io.shard_glob(prefix, ".jsonl")])[0].metadata_list:
    with FileSystems.open(m.path) as f:
      for line in f.read().decode("utf-8").splitlines():
        name, value = json.loads(line)
        counts[name] = counts.get(name, 0) + value
  sharded_io.remove_shards(prefix, ".jsonl")
  section = dict(sorted(counts.items()))
  section.update(extra or {})
  update_summary(output_dir, stage, section)
  return section


def write_stats_local(output_dir: str, stage: str, counts: dict) -> None:
  """Writes the stats file `summary_beam.WriteStats` writes (one `[name, count]` line per name).

  Args:
    output_dir: the stage's output folder.
    stage: the stage name.
    counts: name -> count.
  """
  lines = [(k, json.dumps([k, int(v)])) for k, v in counts.items()]
  sharded_io.write_sorted_shards_local(lines, stats_prefix(output_dir, stage), ".jsonl", 1)
