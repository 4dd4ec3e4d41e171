"""`gcml bench related`: exact vs IVF-PQ top-K related items (throughput, recall, bytes).

On N random clustered unit vectors (`--clusters` Gaussian centres, noise 0.5
per dimension), one thread everywhere (numpy's BLAS limited through
threadpoolctl, faiss with `omp_set_num_threads(1)`, as in a Beam worker):

* exact: `related_items.top_k_block` (the default export path) on
  `--exact_queries` queries in batches of `--query_batch`; its result is the
  ground truth for recall;
* ivfpq: per `--code_bytes`, the index is trained on the id-hash sample
  (`--train_size`), all N items are encoded and added, then for each
  `--nprobe` the same queries are searched (`related_ann.search_block`)
  and recall@K = |approx top-K & exact top-K| / K, averaged over queries;
  then per `--rerank` R the index's top R are re-scored by exact cosine
  (`related_rerank.rerank`, as `gcml export --ann_rerank=R`) and the recall
  of the K best is measured the same way.

Reports queries/s per method (one thread; a Beam job scales it by its
workers), the time to train / encode+build, and the bytes broadcast to every
worker (exact: N * dim * 4 + ids; ivfpq: serialised index + ids).
"""

import argparse
import contextlib
import json
import platform
import time

import numpy as np

from pipelines.export import related_ann, related_items, related_rerank


def _parse(argv):
  p = argparse.ArgumentParser(prog="gcml bench related", description=__doc__.split("\n")[0],
                              allow_abbrev=False)
  p.add_argument("--items", type=int, default=200_000)
  p.add_argument("--dim", type=int, default=64)
  p.add_argument("--clusters", type=int, default=2000)
  p.add_argument("--k", type=int, default=60)
  p.add_argument("--exact_queries", type=int, default=2000,
                 help="queries scored exactly (ground truth and exact throughput)")
  p.add_argument("--query_batch", type=int, default=256)
  p.add_argument("--code_bytes", default="16,32", help="comma-separated PQ code sizes")
  p.add_argument("--nprobe", default="8,32,128", help="comma-separated nprobe values")
  p.add_argument("--rerank", default="120,240",
                 help="comma-separated candidate counts re-scored exactly (R > k)")
  p.add_argument("--train_size", type=int, default=65536)
  p.add_argument("--seed", type=int, default=0)
  return p.parse_args(argv)


def _one_thread():
  try:
    from threadpoolctl import threadpool_limits  # pylint: disable=import-outside-toplevel
    return threadpool_limits(1)
  except ImportError:  # threadpoolctl comes with scikit-learn (the dev extra)
    return contextlib.nullcontext()


def _recall(got, truth, k):
  return float(np.mean([len({n for n, _ in a} & {n for n, _ in b}) / k
                        for a, b in zip(got, truth)]))


def _reranked(args, index, ids, x, q_ids, q_vecs, truth, nprobe, rerank):
  """Recall@k and queries/s when the index's top `rerank` are re-scored exactly."""
  position = {item_id: row for row, item_id in enumerate(ids)}
  t = time.perf_counter()
  got = []
  for s in range(0, len(q_ids), args.query_batch):
    found = related_ann.search_block(q_ids[s:s + args.query_batch],
                                     q_vecs[s:s + args.query_batch], index, ids,
                                     max(rerank, args.k), nprobe)
    for vector, candidates in zip(q_vecs[s:s + args.query_batch], found):
      got.append(related_rerank.rerank(
          vector, [(c, x[position[c]]) for c, _ in candidates], args.k))
  return {"candidates": rerank, "queries_per_s": round(len(q_ids) / (time.perf_counter() - t), 1),
          f"recall_at_{args.k}": round(_recall(got, truth, args.k), 4)}


def main(argv):
  args = _parse(argv)
  rng = np.random.default_rng(args.seed)
  centers = rng.normal(size=(args.clusters, args.dim)).astype(np.float32)
  x = (centers[rng.integers(0, args.clusters, args.items)] +
       0.5 * rng.normal(size=(args.items, args.dim)).astype(np.float32))
  ids = [f"i{j:08d}" for j in range(args.items)]
  pairs = list(zip(ids, x))
  step = max(1, args.items // args.exact_queries)
  q_rows = np.arange(0, args.items, step)[:args.exact_queries]
  q_ids, q_vecs = [ids[r] for r in q_rows], x[q_rows]
  out = {"items": args.items, "dim": args.dim, "k": args.k, "queries": len(q_rows),
         "clusters": args.clusters, "machine": platform.processor() or platform.machine(),
         "threads": 1}
  with _one_thread():
    exact_index = related_items.build_index(pairs)
    t = time.perf_counter()
    truth = []
    for s in range(0, len(q_ids), args.query_batch):
      truth += related_items.top_k_block(q_ids[s:s + args.query_batch],
                                         q_vecs[s:s + args.query_batch], exact_index, args.k)
    exact_s = time.perf_counter() - t
    out["exact"] = {"queries_per_s": round(len(q_ids) / exact_s, 1),
                    "broadcast_bytes": int(exact_index.matrix.nbytes +
                                           sum(len(i) for i in ids))}
    del exact_index
    faiss = related_ann.configure_faiss()
    sample = sorted(pairs, key=lambda kv: related_ann.sample_key(kv[0]))[:args.train_size]
    out["ivfpq"] = []
    for code_bytes in (int(c) for c in args.code_bytes.split(",")):
      params = related_ann.AnnParams(code_bytes=code_bytes, train_size=args.train_size)
      t = time.perf_counter()
      trained = related_ann.train_index(sample, args.items, params)
      train_s = time.perf_counter() - t
      t = time.perf_counter()
      encoder = faiss.deserialize_index(trained)
      codes = []
      for s in range(0, args.items, 8192):
        block = encoder.sa_encode(related_ann.unit_rows(x[s:s + 8192]))
        codes += [(i, c.tobytes()) for i, c in zip(ids[s:s + 8192], block)]
      ann = related_ann.build_index(codes, trained, max_bytes=1 << 62)
      index = faiss.deserialize_index(ann.blob)
      build_s = time.perf_counter() - t
      row = {"code_bytes": code_bytes, "nlist": int(index.nlist),
             "train_s": round(train_s, 1), "encode_and_build_s": round(build_s, 1),
             "broadcast_bytes": ann.broadcast_bytes(), "by_nprobe": []}
      for nprobe in (int(n) for n in args.nprobe.split(",")):
        t = time.perf_counter()
        got = []
        for s in range(0, len(q_ids), args.query_batch):
          got += related_ann.search_block(q_ids[s:s + args.query_batch],
                                          q_vecs[s:s + args.query_batch], index, ann.ids,
                                          args.k, nprobe)
        search_s = time.perf_counter() - t
        cell = {"nprobe": nprobe, "queries_per_s": round(len(q_ids) / search_s, 1),
                f"recall_at_{args.k}": round(_recall(got, truth, args.k), 4), "rerank": []}
        for rerank in (int(r) for r in args.rerank.split(",") if r):
          cell["rerank"].append(_reranked(args, index, ann.ids, x, q_ids, q_vecs, truth,
                                          nprobe, rerank))
        row["by_nprobe"].append(cell)
      out["ivfpq"].append(row)
  print(json.dumps(out, indent=2, sort_keys=True))
  return out
