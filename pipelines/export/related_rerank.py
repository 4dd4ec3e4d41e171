"""Exact re-rank of approximate candidates (`gcml export --search=ivfpq --ann_rerank=R`).

The IVF-PQ search (`pipelines/export/related_ann.py`) scores candidates against
the PQ reconstruction, so a true neighbour can rank below the top K. With
`--ann_rerank=R` (R > K) the index returns R candidates per query; each
candidate is re-scored with the exact cosine of the full float32 vectors
and the K best are kept, ties broken by id as in the exact search.

The full vectors are never broadcast (that is what IVF-PQ avoids): they
travel by two joins. Candidate requests `(candidate, query)` meet the
candidate's vector (CoGroupByKey by candidate id), each vector is sent on to
the queries that asked for it, and those meet the query's own vector
(CoGroupByKey by query id). Cost: N x R vectors shuffled (N x R x dim x 4
bytes), no per-worker memory beyond one query's R candidates.

Scores are computed per query (`rerank`), candidates in id order, so they
do not depend on the runner, the bundling or the other queries.
"""

from __future__ import annotations

import numpy as np

from pipelines.io.related_rows import unit_rows


def rerank(query_vector, candidates, k: int) -> list[tuple[str, float]]:
  """The k best candidates by exact cosine, best first, ties by id.

  Args:
    query_vector: the query's embedding.
    candidates: (candidate id, embedding) pairs, never the query itself.
    k: neighbours kept.

  Returns:
    [(neighbor id, score)] of at most k, score descending then id ascending.
  """
  if not candidates:
    return []
  candidates = sorted(candidates, key=lambda kv: kv[0])
  ids = [c for c, _ in candidates]
  matrix = unit_rows(np.stack([np.asarray(v, np.float32) for _, v in candidates]))
  scores = matrix @ unit_rows(np.asarray(query_vector, np.float32)[None, :])[0]
  order = np.lexsort((np.arange(len(ids)), -scores))[:k]
  return [(ids[j], float(scores[j])) for j in order]
