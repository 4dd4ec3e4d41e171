"""`gcml bench cluster`: affinity clustering speed (prints JSON; not a timed test).

* local: `gcml synth` world of --local_items items (default 1M, mean degree 20,
  so 10M edge lines); in this process: read, 3 rounds, and one
  `scipy.sparse.csgraph.minimum_spanning_tree` call on the same graph (the
  ratio compares the 3 rounds with that call); then `gcml cluster
  --engine=local` end to end in a child process for wall time and peak memory.
* beam: world of --beam_items items (default 100k: 1M edge lines), the Beam
  engine on the DirectRunner (FnApiRunner, and 2 worker processes). A round's
  time is the time of the same pipeline with one level minus the time with
  none (reading, splitting and chunking only); edges per second counts the
  unique edges the round takes in.
"""

import argparse
import glob
import json
import os
import pathlib
import subprocess
import sys
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.io import edges_beam as edges_lib
from pipelines import synth
from pipelines.clustering.stage import default_partitions, file_sizes
from pipelines.clustering import node_bound, round_jump_passes
from pipelines.clustering import affinity_local, hierarchy_beam
from pipelines.io import edges_local as local_io
from pipelines.clustering.partitioned import Chunk
from pipelines.io.features import Modality


def _world(data_dir: str, items: int) -> list:
  out = os.path.join(data_dir, f"world-{items}")
  if not glob.glob(os.path.join(out, "edges-*.csv")):
    synth.generate(synth.SynthConfig(num_items=items, seed=0, modalities=(Modality("rgb", 1),)),
                   out, progress=lambda *_: None)
  return sorted(glob.glob(os.path.join(out, "edges-*.csv")))


REPO = str(pathlib.Path(__file__).resolve().parents[2])
_PEAK = ("import resource, sys\nfrom pipelines import cluster\ncluster.run(sys.argv[1:])\n"
         "print('PEAK_KB=%d' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")


def bench_local(paths: list, out_dir: str, levels: int = 3) -> dict:
  from scipy.sparse import csr_matrix  # pylint: disable=import-outside-toplevel
  from scipy.sparse.csgraph import minimum_spanning_tree  # pylint: disable=import-outside-toplevel
  started = time.time()
  graph = local_io.read_edges_local(paths, "csv", "max", "cluster")
  read_s = time.time() - started
  n, src, dst, weight = len(graph.ids), graph.src, graph.dst, graph.weight
  started = time.time()
  _, edges_left = affinity_local.cluster(graph.ids, src, dst, weight, levels)
  rounds_s = time.time() - started
  matrix = csr_matrix((-weight, (src, dst)), shape=(n, n))
  started = time.time()
  minimum_spanning_tree(matrix)
  mst_s = time.time() - started
  del matrix, graph
  flags = [f"--edges={os.path.dirname(paths[0])}/edges-*.csv", f"--output_dir={out_dir}",
           "--engine=local", f"--levels={levels}"]
  started = time.time()
  child = subprocess.run([sys.executable, "-c", _PEAK, *flags], check=True, capture_output=True,
                         text=True, cwd=REPO)
  e2e_s = time.time() - started
  peak_mb = int(child.stdout.split("PEAK_KB=")[1]) / 1024
  return {"items": n, "unique_edges": len(src), "edges_left": edges_left,
          "read_s": round(read_s, 2), "rounds_s": round(rounds_s, 2),
          "mst_call_s": round(mst_s, 2), "rounds_over_mst": round(rounds_s / mst_s, 2),
          "end_to_end_s": round(e2e_s, 2), "end_to_end_peak_rss_mb": round(peak_mb),
          "command": " ".join(["gcml", "cluster"] + flags)}


def _beam_pipeline_seconds(paths, levels, runner_args) -> float:
  sizes = file_sizes(paths)
  passes = round_jump_passes(node_bound(sizes), max(1, levels))
  partitions = default_partitions(sizes)
  started = time.time()
  with beam.Pipeline(options=PipelineOptions(runner_args)) as p:
    read = p | edges_lib.ReadEdges(paths, "csv", "max", "cluster")
    kept = read.edges | beam.Map(lambda e: (e.src, e.dst, e.weight, 1, 1))
    ignored = p | "NoIgnored" >> beam.Create([])
    if levels:
      out, _ = (kept, ignored) | hierarchy_beam.AffinityClustering(levels, passes, partitions)
    else:
      out = kept | beam.ParDo(Chunk())
    _ = out | beam.combiners.Count.Globally()
  return time.time() - started


def bench_beam(paths: list, workers: list) -> dict:
  unique = len(local_io.read_edges_local(paths, "csv", "max").src)
  result = {"edge_lines": sum(1 for p in paths for _ in open(p, "rb")) - len(paths),
            "unique_edges": unique}
  for n in workers:
    runner = (["--runner=FnApiRunner"] if n == 1 else
              ["--runner=DirectRunner", f"--direct_num_workers={n}",
               "--direct_running_mode=multi_processing"])
    base = _beam_pipeline_seconds(paths, 0, runner)
    one = _beam_pipeline_seconds(paths, 1, runner)
    three = _beam_pipeline_seconds(paths, 3, runner)
    result[f"workers_{n}"] = {
        "read_only_s": round(base, 1), "one_level_s": round(one, 1),
        "three_levels_s": round(three, 1), "round_1_s": round(one - base, 1),
        "round_1_unique_edges_per_s": round(unique / (one - base)),
        "round_1_edge_lines_per_s": round(result["edge_lines"] / (one - base))}
  return result


def main(argv: list) -> dict:
  p = argparse.ArgumentParser(prog="gcml bench cluster", allow_abbrev=False)
  p.add_argument("--data_dir", default="/tmp/gcml-bench/cluster")
  p.add_argument("--local_items", type=int, default=1_000_000)
  p.add_argument("--beam_items", type=int, default=100_000)
  p.add_argument("--workers", default="1,2", help="Beam DirectRunner worker counts")
  p.add_argument("--skip", default="", help="local and/or beam")
  args = p.parse_args(argv)
  result = {"cpu_count": os.cpu_count(), "load_average": os.getloadavg()}
  if "local" not in args.skip:
    paths = _world(args.data_dir, args.local_items)
    result["local"] = bench_local(paths, os.path.join(args.data_dir, "out-local"))
  if "beam" not in args.skip:
    paths = _world(args.data_dir, args.beam_items)
    result["beam"] = bench_beam(paths, [int(w) for w in args.workers.split(",")])
  result["load_average_after"] = os.getloadavg()
  print(json.dumps(result, indent=2, sort_keys=True))
  return result


if __name__ == "__main__":
  main(sys.argv[1:])
