"""pipelines.export.related_items: the exact search on rows, and the index built from a matrix."""

import numpy as np
import pytest

from pipelines.export import related_items
from pipelines.io import related_rows

VECS = np.array([[1, 0], [1, 0], [0, 1], [1, 1], [-1, 0]], np.float32)


def test_index_from_matrix_is_build_index():
  pairs = [(f"i{j}", v) for j, v in enumerate(VECS)]
  built = related_items.build_index(pairs[::-1])
  index = related_items.index_from_matrix([k for k, _ in pairs], VECS)
  assert index.ids == built.ids == ("i0", "i1", "i2", "i3", "i4")
  assert np.array_equal(index.matrix, built.matrix) and index.position == built.position
  assert index.matrix[3].tolist() == pytest.approx([0.7071068, 0.7071068])
  # 5 x 2 floats (40 bytes) + 10 bytes of ids = 50 bytes.
  related_items.index_from_matrix([k for k, _ in pairs], VECS, max_bytes=50)
  with pytest.raises(related_rows.IndexTooLargeError, match="50 bytes"):
    related_items.index_from_matrix([k for k, _ in pairs], VECS, max_bytes=49)


@pytest.mark.parametrize("chunk", [1, 2, 100])
def test_top_k_rows_ranks_rows_ties_by_row_never_itself(chunk):
  index = related_items.index_from_matrix([f"i{j}" for j in range(5)], VECS)
  scores, rows = related_items.top_k_rows(index.matrix[[0, 2, 4]], np.array([0, 2, 4]),
                                          index.matrix, 3, chunk)
  # i0: i1 (cos 1), i3 (0.707107), then i2 (0) before i4 (-1).
  assert rows.tolist() == [[1, 3, 2], [3, 0, 1], [2, 3, 0]]
  assert scores[0].tolist() == pytest.approx([1.0, 0.7071068, 0.0])
  # i4: i2 (0), then i3 (-0.707107), then i0 and i1 tie at -1: the smaller row first.
  assert scores[2].tolist() == pytest.approx([0.0, -0.7071068, -1.0])
  found = related_items.top_k_block(["i0", "i2", "i4"], VECS[[0, 2, 4]], index, 3, chunk)
  assert [[n for n, _ in r] for r in found] == [[f"i{j}" for j in r] for r in rows.tolist()]


def test_top_k_rows_pads_past_the_last_neighbour():
  index = related_items.index_from_matrix(["a", "b"], VECS[:2])
  scores, rows = related_items.top_k_rows(index.matrix, np.array([0, 1]), index.matrix, 3)
  assert rows[:, 0].tolist() == [1, 0] and np.isfinite(scores).sum(axis=1).tolist() == [1, 1]
