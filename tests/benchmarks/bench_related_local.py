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

`--index=inverted` measures the export's `--search=ivfflat` itself (the
index from `related_ann.filled_index`, searched by `related_inverted.search`
on the export's blocks of queries, BLAS on one thread; no re-rank),
`--index=ivfflat` (a faiss IVF-Flat index: exact inner products in the
probed lists, candidates re-scored by the same exact re-rank) and
`--index=hnsw` (`--hnsw_m`, `--ef_search`) measure the other candidate
searches on the same data, and `--nprobe`, `--rerank`, `--code_bytes` the
IVF-PQ settings, for the choice documented in docs/export_and_evaluation.md.

Prints one JSON line; with the build time and queries per CPU-second the
whole related-items step at N items is about build + N / rate CPU-seconds.
"""

import argparse
import contextlib
import dataclasses
import json
import resource
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from pipelines.export import local_related, related_ann, related_inverted, related_items
from pipelines.export.stage import ExportConfig
from pipelines.io.related_rows import unit_rows


def _build(a, params, pairs, units, out):
  """The faiss index the queries search (labels: rows of the sorted ids)."""
  faiss = related_ann.configure_faiss()
  sample = sorted(pairs, key=lambda kv: related_ann.sample_key(kv[0]))[:params.train_size]
  if a.index == "hnsw":
    index = faiss.IndexHNSWFlat(a.dim, a.hnsw_m, faiss.METRIC_INNER_PRODUCT)
    index.add(units)
    index.hnsw.efSearch = a.ef_search
    out.update(hnsw_m=a.hnsw_m, ef_search=a.ef_search)
    return index
  if a.index == "inverted":
    ann = related_ann.filled_index([k for k, _ in pairs], np.stack([v for _, v in pairs]),
                                   dataclasses.replace(params, kind="ivfflat"), 1 << 62)
    index = faiss.deserialize_index(ann.blob)
    out.update(nlist=index.nlist, nprobe=min(params.nprobe, index.nlist))
    return related_inverted.from_faiss(index, params.nprobe)
  trained = related_ann.train_index(sample, len(pairs), params)
  if a.index == "ivfflat":
    pq = faiss.deserialize_index(trained)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(a.dim), a.dim, pq.nlist,
                               faiss.METRIC_INNER_PRODUCT)
    index.cp.seed = related_ann.SEED
    index.train(unit_rows(np.stack([v for _, v in sample])))
    index.add(units)
  else:
    encoder = faiss.deserialize_index(trained)
    codes = [c.tobytes() for s in range(0, len(pairs), 1024)
             for c in encoder.sa_encode(units[s:s + 1024])]
    ann = related_ann.build_index([(k, c) for (k, _), c in zip(pairs, codes)], trained, 1 << 62)
    index = faiss.deserialize_index(ann.blob)
    out["code_bytes"] = index.pq.M
  index.nprobe = min(params.nprobe, index.nlist)
  out.update(nlist=index.nlist, nprobe=index.nprobe)
  return index


def main(argv):
  p = argparse.ArgumentParser(prog="gcml bench related_local", allow_abbrev=False)
  p.add_argument("--items", type=int, default=1_000_000)
  p.add_argument("--dim", type=int, default=64)
  p.add_argument("--clusters", type=int, default=2000)
  p.add_argument("--queries", type=int, default=20480)
  p.add_argument("--threads", type=int, default=0, help="0: one per core")
  p.add_argument("--seed", type=int, default=0)
  p.add_argument("--index", choices=("ivfpq", "inverted", "ivfflat", "hnsw"), default="ivfpq")
  p.add_argument("--nprobe", type=int, default=0, help="0: the export's default")
  p.add_argument("--rerank", type=int, default=-1, help="-1: the export's default (4 x K)")
  p.add_argument("--code_bytes", type=int, default=0, help="0: dim / 2")
  p.add_argument("--hnsw_m", type=int, default=32)
  p.add_argument("--ef_search", type=int, default=128)
  a = p.parse_args(argv)
  rng = np.random.default_rng(a.seed)
  centers = rng.normal(size=(a.clusters, a.dim)).astype(np.float32)
  x = (centers[rng.integers(0, a.clusters, a.items)] +
       0.5 * rng.normal(size=(a.items, a.dim)).astype(np.float32))
  ids = [f"i{j:08d}" for j in range(a.items)]
  flags = {"search": "ivfpq", "ann_code_bytes": a.code_bytes}
  if a.nprobe:
    flags["ann_nprobe"] = a.nprobe
  if a.rerank >= 0:
    flags["ann_rerank"] = a.rerank
  config = ExportConfig("model", "features", "out", **flags)
  params, k = config.ann_params(), config.top_k
  wanted = max(config.rerank_candidates(), k)
  threads = a.threads or local_related.default_threads()
  out = {"items": a.items, "dim": a.dim, "threads": threads, "index": a.index,
         "rerank": config.rerank_candidates()}
  wall, cpu = time.perf_counter(), time.process_time()
  pairs = list(zip(ids, x))
  units = unit_rows(x)
  index = _build(a, params, pairs, units, out)
  out["build_s"] = round(time.perf_counter() - wall, 1)
  out["build_cpu_s"] = round(time.process_time() - cpu, 1)

  def block(start):
    if a.index == "inverted":
      stop = min(start + local_related.INVERTED_BLOCK, a.queries)
      rows, _, counts = related_inverted.search(index, units[start:stop], np.arange(start, stop), k)
      return [(r[:c], None) for r, c in zip(rows, counts)]
    stop = min(start + config.query_batch, a.queries)
    rows = local_related._candidate_rows(index, units[start:stop], np.arange(start, stop), wanted)
    return local_related._reranked(x, units, start, [r for r, _ in rows], k)

  wall, cpu = time.perf_counter(), time.process_time()
  step = local_related.INVERTED_BLOCK if a.index == "inverted" else config.query_batch
  blas = related_inverted.one_blas_thread() if a.index == "inverted" else contextlib.nullcontext()
  with blas, ThreadPoolExecutor(threads) as pool:
    found = [f for fs in pool.map(block, range(0, a.queries, step)) for f in fs]
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
