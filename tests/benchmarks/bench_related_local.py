"""`gcml bench related_local`: the local export's IVF-PQ search with re-rank, timed at scale.

On N random clustered unit vectors (as `gcml bench related`: `--clusters`
Gaussian centres, noise 0.5 per dimension), with `gcml export`'s defaults
(`--search=ivfpq`, nprobe 32, dim / 2 code bytes, re-rank 4 x top_k):

1. the index is trained, encoded and built as `local_related.py` does
   (seconds and CPU seconds);
2. the first `--queries` items are searched and re-ranked on `--threads`
   threads, in the export's query blocks (`local_related._candidate_rows`,
   `_reranked`): queries per second and per CPU-second;
3. recall@K of the first 512 of them against the exact search.

Prints one JSON line; with the build time and queries per CPU-second the
whole related-items step at N items is about build + N / rate CPU-seconds.
"""

import argparse
import json
import resource
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipelines.export import local_related, related_ann, related_items
from pipelines.export.stage import ExportConfig
from pipelines.io.related_rows import unit_rows


def main(argv):
  p = argparse.ArgumentParser(prog="gcml bench related_local", allow_abbrev=False)
  p.add_argument("--items", type=int, default=1_000_000)
  p.add_argument("--dim", type=int, default=64)
  p.add_argument("--clusters", type=int, default=2000)
  p.add_argument("--queries", type=int, default=20480)
  p.add_argument("--threads", type=int, default=0, help="0: one per core")
  p.add_argument("--seed", type=int, default=0)
  a = p.parse_args(argv)
  rng = np.random.default_rng(a.seed)
  centers = rng.normal(size=(a.clusters, a.dim)).astype(np.float32)
  x = (centers[rng.integers(0, a.clusters, a.items)] +
       0.5 * rng.normal(size=(a.items, a.dim)).astype(np.float32))
  ids = [f"i{j:08d}" for j in range(a.items)]
  config = ExportConfig("model", "features", "out", search="ivfpq")
  params, k = config.related_transform().ann, config.top_k
  wanted = max(config.rerank_candidates(), k)
  threads = a.threads or local_related.default_threads()
  out = {"items": a.items, "dim": a.dim, "threads": threads, "nprobe": params.nprobe,
         "rerank": config.rerank_candidates()}
  wall, cpu = time.perf_counter(), time.process_time()
  pairs = list(zip(ids, x))
  sample = sorted(pairs, key=lambda kv: related_ann.sample_key(kv[0]))[:params.train_size]
  trained = related_ann.train_index(sample, a.items, params)
  faiss = related_ann.configure_faiss()
  encoder, units = faiss.deserialize_index(trained), unit_rows(x)
  codes = [c.tobytes() for s in range(0, a.items, 1024)
           for c in encoder.sa_encode(units[s:s + 1024])]
  ann = related_ann.build_index(list(zip(ids, codes)), trained, 1 << 62)
  index = faiss.deserialize_index(ann.blob)
  index.nprobe = min(params.nprobe, index.nlist)
  out["build_s"] = round(time.perf_counter() - wall, 1)
  out["build_cpu_s"] = round(time.process_time() - cpu, 1)

  def block(start):
    stop = min(start + config.query_batch, a.queries)
    rows = local_related._candidate_rows(index, units[start:stop], np.arange(start, stop), wanted)
    return local_related._reranked(x, units, start, [r for r, _ in rows], k)

  wall, cpu = time.perf_counter(), time.process_time()
  with ThreadPoolExecutor(threads) as pool:
    found = [f for fs in pool.map(block, range(0, a.queries, config.query_batch)) for f in fs]
  wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
  out.update(queries=a.queries, search_rerank_s=round(wall, 1), search_rerank_cpu_s=round(cpu, 1),
             queries_per_s=round(a.queries / wall, 1), queries_per_cpu_s=round(a.queries / cpu, 1))
  exact = related_items.build_index(pairs)
  probes = min(512, a.queries)
  truth = related_items.top_k_block(ids[:probes], x[:probes], exact, k)
  out[f"recall_at_{k}"] = round(float(np.mean(
      [len({ids[j] for j in found[q][0]} & {n for n, _ in truth[q]}) / k
       for q in range(probes)])), 4)
  out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
  print(json.dumps(out, sort_keys=True))
  return out
