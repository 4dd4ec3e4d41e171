"""Edge weights derived from the graph itself (`--similarity`), in memory.

For an edge u-v with degrees d_u, d_v and c common neighbours (the third
vertices of the triangles through the edge):

* `jaccard`: Jaccard of the closed neighbourhoods N[u] = N(u) + {u}:
  |N[u] & N[v]| / |N[u] | N[v]| = (c + 2) / (d_u + d_v - c), in (0, 1];
  an edge with no common neighbour still weighs 2 / (d_u + d_v);
* `adamic_adar`: the sum over the common neighbours w of 1 / ln(d_w)
  (d_w >= 2), summed exactly (`math.fsum`); 0 for an edge in no triangle.

Both engines find every triangle once, from its lowest vertex in (degree, id)
order: a node w pairs up its *out-neighbours* (the neighbours above it in that
order), and a pair that is itself an edge closes a triangle. A node with k
out-neighbours has k neighbours of degree >= k, so k <= sqrt(2m) for m edges,
and the wedges formed number at most m * sqrt(2m) / 2 in all, whatever the
hubs: no full adjacency list of a hub is ever formed. Every term of a weight
is computed with the same Python operations in both engines (`1.0 /
math.log(d)`, one true division of integers) and sums are correctly rounded,
so the weights are the same bits.
"""

import math

import numpy as np
from scipy import sparse

from pipelines.io.pair_groups import exact_group_sums


def inverse_log_degree(degrees: np.ndarray) -> np.ndarray:
  """1 / ln(d) per degree d >= 2, computed by `math.log` (as the Beam engine does).

  Args:
    degrees: node degrees (>= 2 where used).

  Returns:
    1 / ln(d) per degree.
  """
  values = np.unique(degrees)
  table = np.array([1.0 / math.log(d) if d >= 2 else 0.0 for d in values.tolist()])
  return table[np.searchsorted(values, degrees)]


def triangles(n: int, src: np.ndarray, dst: np.ndarray):
  """Every triangle once: edge indices (e_uv, e_wu, e_wv) and its vertices (w, u, v).

  Args:
    n: the number of nodes.
    src: each edge's smaller node.
    dst: each edge's larger node.

  Returns:
    ((e_uv, e_wu, e_wv), (w, u, v), degree): edge and vertex index arrays, one
    entry per triangle, and each node's degree.
  """
  degree = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
  rank = np.empty(n, np.int64)
  rank[np.lexsort((np.arange(n), degree))] = np.arange(n)  # (degree, id) order
  low_first = rank[src] < rank[dst]
  low, high = np.where(low_first, src, dst), np.where(low_first, dst, src)
  out = sparse.csr_matrix((np.ones(len(src), np.int8), (low, high)), shape=(n, n))
  out.sort_indices()
  indptr, indices = out.indptr.astype(np.int64), out.indices.astype(np.int64)
  row_of = np.repeat(np.arange(n), np.diff(indptr))
  later = indptr[row_of + 1] - np.arange(len(indices)) - 1  # out-neighbours after each one
  first = np.repeat(np.arange(len(indices)), later)
  second = first + 1 + np.arange(len(first)) - np.repeat(np.cumsum(later) - later, later)
  w, u, v = row_of[first], indices[first], indices[second]
  del first, second
  key = src * n + dst
  order = np.argsort(key, kind="stable")
  sorted_key = key[order]

  def edge_index(a, b):
    k = np.minimum(a, b) * n + np.maximum(a, b)
    pos = np.minimum(np.searchsorted(sorted_key, k), max(0, len(sorted_key) - 1))
    return pos, sorted_key[pos] == k if len(sorted_key) else np.zeros(len(k), bool)

  pos, closed = edge_index(u, v)
  w, u, v = w[closed], u[closed], v[closed]
  e_uv = order[pos[closed]]
  e_wu, e_wv = order[edge_index(w, u)[0]], order[edge_index(w, v)[0]]
  return (e_uv, e_wu, e_wv), (w, u, v), degree


def similarity_weights(n: int, src: np.ndarray, dst: np.ndarray, similarity: str) -> np.ndarray:
  """The derived weight of every edge src[i]-dst[i] (unique, src < dst) of an n-node graph.

  Args:
    n: the number of nodes.
    src: each edge's smaller node.
    dst: each edge's larger node.
    similarity: `jaccard` or `adamic_adar`.

  Returns:
    A float64 weight per edge.
  """
  m = len(src)
  if m == 0:
    return np.zeros(0)
  (e_uv, e_wu, e_wv), (w, u, v), degree = triangles(n, src, dst)
  if similarity == "jaccard":
    common = (np.bincount(e_uv, minlength=m) + np.bincount(e_wu, minlength=m)
              + np.bincount(e_wv, minlength=m))
    return ((common + 2).astype(np.float64)
            / (degree[src] + degree[dst] - common).astype(np.float64))
  if similarity != "adamic_adar":
    raise ValueError(f"unknown similarity {similarity!r}")
  edge = np.concatenate((e_uv, e_wu, e_wv))
  term = inverse_log_degree(np.concatenate((degree[w], degree[v], degree[u])))
  weight = np.zeros(m)
  if len(edge):
    order = np.argsort(edge, kind="stable")
    edge, term = edge[order], term[order]
    starts = np.flatnonzero(np.concatenate(([True], edge[1:] != edge[:-1])))
    weight[edge[starts]] = exact_group_sums(term, starts)
  return weight
