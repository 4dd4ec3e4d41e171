"""`gcml bench features_read`: the local engines' feature readers on TFRecord files (prints JSON).

Reads `--features` (a glob of contract-2 TFRecord files, e.g. a `gcml synth`
world's `features-*.tfrecord`) `--repeats` times per reader, in this process,
the readers interleaved; per reader, the CPU and wall seconds of each call:

* `frames`: every record and corrupt frame of every file
  (`tfrecord_files.records_or_rejections`, one record at a time);
* `ids`: the records checked, ids only, as `gcml validate --engine=local`
  reads them (`record_checks.read_checked_ids_local` with
  `features.parse_items(ids_only=True)`);
* `rows`: the records checked into matrices, as `gcml examples
  --engine=local` reads them (`examples.local.feature_rows`).

Each reader is called once first (not counted). `--profile=READER` prints the
15 costliest functions (cProfile, internal time) of one more call. Not a
timed test: it prints figures.
"""

import argparse
import cProfile
import functools
import glob
import json
import pstats
import time

from pipelines.io import features, record_checks, tfrecord_files


def _frames(paths: list, modalities) -> int:
  del modalities
  return sum(1 for path in paths for _ in tfrecord_files.records_or_rejections(path, "bench"))


def _ids(paths: list, modalities) -> int:
  parse = functools.partial(features.parse_items, modalities=modalities, ids_only=True)
  first, rejections, _ = record_checks.read_checked_ids_local(
      paths, features.feature_checks(modalities), "bench", parse)
  return len(first) + len(rejections)


def _rows(paths: list, modalities) -> int:
  from pipelines.examples.local import feature_rows  # pylint: disable=import-outside-toplevel
  read = feature_rows.read_feature_rows_local(paths, modalities, "bench")
  return len(read.row) + len(read.rejections)


READERS = {"frames": _frames, "ids": _ids, "rows": _rows}


def main(argv: list[str]) -> dict:
  """Measures the readers.

  Args:
    argv: the flags (`--features`, `--modalities`, `--repeats`, `--readers`, `--profile`).

  Returns:
    {reader: {"records": records and rejections, "cpu_s": [...], "wall_s": [...]}, "files": n}.
  """
  p = argparse.ArgumentParser(prog="gcml bench features_read")
  p.add_argument("--features", required=True, help="glob of feature TFRecord files")
  p.add_argument("--modalities", default="mean_rgb:64,mean_audio:16")
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--readers", default=",".join(READERS))
  p.add_argument("--profile", default="", help="a reader to profile once more")
  a = p.parse_args(argv)
  paths = sorted(glob.glob(a.features))
  modalities = features.parse_modalities(a.modalities)
  names = a.readers.split(",")
  out = {"files": len(paths)}
  for name in names:
    out[name] = {"records": READERS[name](paths, modalities), "cpu_s": [], "wall_s": []}
  for _ in range(a.repeats):
    for name in names:
      cpu, wall = time.process_time(), time.perf_counter()
      READERS[name](paths, modalities)
      out[name]["cpu_s"].append(round(time.process_time() - cpu, 4))
      out[name]["wall_s"].append(round(time.perf_counter() - wall, 4))
  for name in names:
    out[name]["cpu_s_min"] = min(out[name]["cpu_s"], default=None)
  print(json.dumps(out, sort_keys=True))
  if a.profile:
    profile = cProfile.Profile()
    profile.runcall(READERS[a.profile], paths, modalities)
    pstats.Stats(profile).sort_stats("tottime").print_stats(15)
  return out
