"""`examples.local.item_infos`: split hashes shared across calls, split parts."""

import numpy as np

from pipelines import split
from pipelines.examples.local import item_infos


def test_split_hashes_equal_split_hash_and_hash_each_id_once():
  known = {}
  first = item_infos.split_hashes(["a", "b", "a", "é"], known)
  assert first.dtype == np.uint64
  assert first.tolist() == [split.split_hash(i) for i in ["a", "b", "a", "é"]]
  assert sorted(known) == ["a", "b", "é"]
  known["b"] = 7  # a known id is looked up, not hashed again
  assert item_infos.split_hashes(["b", "c"], known).tolist() == [7, split.split_hash("c")]
  assert item_infos.split_hashes(["c", "a"]).tolist() == [split.split_hash("c"),
                                                          split.split_hash("a")]
  assert item_infos.split_hashes([], known).tolist() == []


def test_a_long_id_list_is_hashed_whole_and_not_kept(monkeypatch):
  monkeypatch.setattr(item_infos, "_KNOWN_IDS_MAX", 2)
  known = {"a": 7}
  assert item_infos.split_hashes(["a", "b", "c"], known).tolist() == [
      split.split_hash(i) for i in ["a", "b", "c"]]
  assert known == {"a": 7}
  assert item_infos.split_hashes(["a", "b"], known).tolist() == [7, split.split_hash("b")]


def test_split_parts_with_and_without_known_hashes_equal_split_of():
  ids = [f"item{i}" for i in range(300)]
  expected = [split.split_of(i, 0.3, 0.1) for i in ids]
  known = {}
  assert item_infos.split_parts(ids[:100], 0.3, 0.1, known) == expected[:100]
  assert item_infos.split_parts(ids, 0.3, 0.1, known) == expected
  assert item_infos.split_parts(ids, 0.3, 0.1) == expected
