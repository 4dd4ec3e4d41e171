"""`number_ids`: sorted unique ids and each name's index, on every path."""

import numpy as np
import pyarrow as pa
import pytest

from pipelines.io import id_numbering


def test_number_ids_long_and_short_ids_sort_like_python():
  names = ["b", "a", "ab", "é", "a" * 20, "a" * 19 + "b", "b", "Z"]
  for batch in (names, [x[:1] for x in names]):
    unique, index = id_numbering.number_ids(np.array([x.encode() for x in batch], dtype="S"))
    ids = [x.decode() for x in unique.tolist()]
    assert ids == sorted(set(batch))
    assert [ids[i] for i in index] == batch


@pytest.mark.parametrize("ids", [
    ["v01", "v10", "v00"],  # 2 varying bits: a table of 4 keys, no sort
    ["v000017", "v000003", "v101010"],  # 24 varying bits: one sort of key and row
    ["!!!!!!!!", "~~~~~~~~", "!~!~!~!~", "~!"],  # 7 bits x 8 bytes: over the budget, argsort
    ["!" * 20, "~" * 20, "!~" * 10, "~!"],  # over the budget and long: the hash path
])
def test_number_ids_every_path_sorts_like_python(ids):
  # 2**17 rows leave 47 bits for the key: the first two lists fit, the others do not.
  rows = [ids[i % len(ids)] for i in range(2**17)]
  unique, index = id_numbering.number_ids(np.array([x.encode() for x in rows], dtype="S"))
  assert [x.decode() for x in unique.tolist()] == sorted(ids)
  assert index.tolist() == [sorted(ids).index(x) for x in rows]


@pytest.mark.parametrize("ids", [
    ["v01", "v10", "v00", "v1", "v", "w0"],  # mixed lengths: a table, prefixes first
    ["v000017", "v000003", "v101010"],  # fixed width, 24 varying bits: a table
    ["!!!!!!!!", "~~~~~~~~", "!~!~!~!~", "~!", "é", "ü"],  # 56 bits: sorted
    ["same", "same"],  # nothing varies
])
def test_number_short_ids_sorts_like_python(ids):
  rows = [ids[i % len(ids)] for i in range(3000)]
  chunks = [pa.array([x.encode() for x in rows[:1000]], pa.binary()), pa.array([], pa.binary()),
            pa.array([x.encode() for x in rows[1000:]], pa.binary())]
  unique, index = id_numbering.number_short_ids(chunks)
  assert [x.decode() for x in unique.tolist()] == sorted(set(ids))
  assert index.tolist() == [sorted(set(ids)).index(x) for x in rows]


def test_number_short_ids_leaves_longer_ids_to_number_ids():
  assert id_numbering.number_short_ids([pa.array([b"a", b"123456789"], pa.binary())]) is None
  unique, index = id_numbering.number_short_ids([pa.array([], pa.binary())])
  assert len(unique) == 0 and len(index) == 0
