"""The cold-start split: which items are train and which are test.

Shared by training-example generation (`gcml examples`) and evaluation
(`gcml evaluate`), so both must import it from here and never re-implement
it. Items are split 7:3 (DESIGN.md, "Metrics") by a stable hash of the id:
BLAKE2b (8-byte digest) of the UTF-8 id, read as an unsigned 64-bit integer
and compared with `test_fraction * 2**64`. The split does not depend on any
seed, on Python's salted `hash()`, on the machine or on the input order, so
an id is on the same side in every run and every stage.

Rules used by the example pipelines:

* examples only contain train items: a test item never appears as anchor,
  positive, negative or labelled example;
* an edge touching a test item is not used for training examples (neither
  endpoint may be a test item);
* clusters are computed on the whole graph, but sampling pools and
  reservoirs only contain train items.
"""

from pipelines import hashing

TEST_FRACTION = 0.3
_SCALE = float(2**64)


def split_hash(item_id: str) -> int:
  """The 64-bit split hash of an id (BLAKE2b-64 of its UTF-8 bytes)."""
  return hashing.blake2b64(item_id.encode("utf-8"))


def is_test(item_id: str, test_fraction: float = TEST_FRACTION) -> bool:
  """True when the item belongs to the cold-start test split.

  Args:
    item_id: the item's id (a string, as in every file contract).
    test_fraction: share of items in the test split, in [0, 1].

  Returns:
    Whether the item is a test item. With the same `test_fraction`, the
    answer is the same everywhere; a larger fraction only adds test items.
  """
  if not 0.0 <= test_fraction <= 1.0:
    raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
  return split_hash(item_id) < test_fraction * _SCALE


def is_train(item_id: str, test_fraction: float = TEST_FRACTION) -> bool:
  """True when the item may be used for training examples."""
  return not is_test(item_id, test_fraction)


def split_of(item_id: str, test_fraction: float = TEST_FRACTION) -> str:
  """`"test"` or `"train"`."""
  return "test" if is_test(item_id, test_fraction) else "train"
