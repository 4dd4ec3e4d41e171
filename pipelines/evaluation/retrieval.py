"""Cold-start retrieval in memory: the queries, the database and MAP@60 / NDCG@60 per model.

Only test items take part. Queries are the test items with at least one
related test item (an edge between two test items); the database is the
union of the queries' related items (so the same set: a relation goes both
ways); candidates are ranked by cosine (the query itself is never a
candidate), among the whole database (`--search=exact`) or among each
query's top candidates from an IVF index (`ann_retrieval.py`). Every model
is scored on the same queries and database (`model/metrics.py` defines the
metrics).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from model import metrics
from pipelines.errors import InputError
from pipelines.evaluation import ann_retrieval

MODELS = ("embeddings", "raw_features")
NO_QUERIES = ("no test item has a related test item with both an embedding and features: "
              "nothing to evaluate")


def retrieval_results(vectors_by_model: dict, test_edges, ndcg_k: int = 60, map_k: int = 60,
                      block: int = 1024, reuse: dict | None = None,
                      search: ann_retrieval.Search = ann_retrieval.Search()):
  """Scores every model on the queries and database its items share.

  Args:
    vectors_by_model: model name -> {test item id: vector}; only items that
      every model has take part.
    test_edges: (a, b) pairs between test items.
    ndcg_k: the k of NDCG@k.
    map_k: the k of MAP@k.
    block: queries scored per matrix product.
    reuse: model name -> {items: results} of earlier calls whose vectors of
      that model and `test_edges` were the same (the raw-feature baseline of
      several evaluations of one world): the results of the same items are
      taken from there (the same queries, database and vectors, so the same
      numbers), and new ones are added to it.
    search: exact, or the IVF index settings (`ann_retrieval.Search`).

  Returns:
    (results, queries, database): model name -> `metrics.retrieval_metrics`,
    and the sorted query and database ids.

  Raises:
    InputError: no query (no test item has a related test item).
  """
  items = set.intersection(*(set(v) for v in vectors_by_model.values()))
  queries, database, relevance, exclude = metrics.retrieval_sets(test_edges, items)
  if not queries:
    raise InputError(NO_QUERIES)
  results, items = {}, frozenset(items)
  todo = []
  for name in vectors_by_model:
    earlier = (reuse or {}).get(name)
    if earlier is not None and items in earlier:
      results[name] = dict(earlier[items])
    else:
      todo.append(name)

  def score(name):
    vectors = vectors_by_model[name]
    if search.exact:
      return metrics.retrieval_metrics(
          np.stack([vectors[q] for q in queries]), np.stack([vectors[d] for d in database]),
          relevance, exclude, ndcg_k=ndcg_k, map_k=map_k, block=block)
    # The queries are the database (a relation goes both ways): row r of relevance is item r.
    return ann_retrieval.retrieval_metrics(
        database, np.stack([vectors[d] for d in database]), relevance, search,
        ndcg_k=ndcg_k, map_k=map_k, block=block)

  # The IVF models run at once (each index is trained on one thread); the exact products
  # use BLAS's threads, one model at a time.
  with ThreadPoolExecutor(1 if search.exact else max(1, len(todo))) as pool:
    for name, value in zip(todo, pool.map(score, todo)):
      results[name] = value
      earlier = (reuse or {}).get(name)
      if earlier is not None:
        earlier[items] = dict(value)
  return {name: results[name] for name in vectors_by_model}, queries, database
