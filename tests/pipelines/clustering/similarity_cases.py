"""The similarity test graphs: a small hand-computed one, a hub graph, and the definition."""

import math

import numpy as np

from pipelines.clustering import similarity_local
from tests.pipelines.clustering import graphs

# Triangle x-y-z, a tail z-w and a lone pair p-q; degrees x 2, y 2, z 3, w 1.
SMALL = [("p", "q"), ("w", "z"), ("x", "y"), ("x", "z"), ("y", "z")]
# Closed neighbourhoods: x-y share {x, y, z} of {x, y, z}; x-z share {x, y, z} of
# {x, y, z, w}; z-w share {z, w} of {x, y, z, w}.
JACCARD = {("p", "q"): 1.0, ("w", "z"): 0.5, ("x", "y"): 1.0, ("x", "z"): 0.75,
           ("y", "z"): 0.75}
# The common neighbour of x-y is z (degree 3), of x-z and y-z the other end
# (degree 2); z-w and p-q have none.
ADAMIC_ADAR = {("p", "q"): 0.0, ("w", "z"): 0.0, ("x", "y"): 1 / math.log(3),
               ("x", "z"): 1 / math.log(2), ("y", "z"): 1 / math.log(2)}


def reference(pairs, similarity):
  """Plain-Python sets: the definition, edge by edge."""
  nbrs = {}
  for a, b in pairs:
    nbrs.setdefault(a, set()).add(b)
    nbrs.setdefault(b, set()).add(a)
  out = {}
  for a, b in pairs:
    if similarity == "jaccard":
      ca, cb = nbrs[a] | {a}, nbrs[b] | {b}
      out[(a, b)] = len(ca & cb) / len(ca | cb)
    else:
      out[(a, b)] = math.fsum(1 / math.log(len(nbrs[w])) for w in nbrs[a] & nbrs[b])
  return out


def hub_graph():
  """A random graph plus a hub linked to every node (ties and triangles galore)."""
  pairs = {(min(a, b), max(a, b)) for a, b, _ in graphs.random_graph(4, 80, 300, False)}
  pairs |= {("h", f"n{i}") for i in range(80)}
  return sorted(pairs)


def local_weights(pairs, similarity):
  ids = sorted({x for p in pairs for x in p})
  index = {x: i for i, x in enumerate(ids)}
  src = np.array([index[a] for a, _ in pairs], np.int64)
  dst = np.array([index[b] for _, b in pairs], np.int64)
  weight = similarity_local.similarity_weights(len(ids), src, dst, similarity)
  return dict(zip(pairs, weight.tolist()))
