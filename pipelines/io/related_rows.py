"""What both related-items searches share: the file's rows, the searches and the broadcast cap.

`pipelines/export/related_items.py` (exact) and `pipelines/export/related_ann.py`
(IVF-PQ) write the same `related-*.tsv` rows (contract 7) and check the same
per-worker broadcast limit; they import these from here, never each other's
module for them.
"""

from __future__ import annotations

import numpy as np

HEADER = "id\trank\tneighbor\tscore"
SEARCHES = ("exact", "ivfpq")
MAX_INDEX_BYTES = 1 << 30  # 1 GiB: e.g. 1M items x 256 floats (related_items.py: the budget)


class IndexTooLargeError(ValueError):
  """The broadcast index would not fit the documented per-worker budget."""


def format_rows(query_id: str, neighbours) -> list[tuple[str, str]]:
  """(sort_key, tsv line) per neighbour; rank is 1-based.

  Args:
    query_id: the item.
    neighbours: [(neighbor id, score)], best first.

  Returns:
    [(f"{id}\t{rank:06d}", f"{id}\t{rank}\t{neighbor}\t{score:.6f}")].
  """
  return [(f"{query_id}\t{rank:06d}", f"{query_id}\t{rank}\t{nid}\t{score:.6f}")
          for rank, (nid, score) in enumerate(neighbours, start=1)]


def unit_rows(vectors) -> np.ndarray:
  """Rows scaled to unit L2 norm in float32 (zero rows stay zero).

  Args:
    vectors: [n, d] array-like.

  Returns:
    float32 [n, d].
  """
  x = np.asarray(vectors, np.float32)
  norms = np.linalg.norm(x, axis=1, keepdims=True)
  return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
