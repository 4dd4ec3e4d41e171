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
* clusters are computed on the train-train subgraph (`gcml cluster`, unless
  `--cluster_all_edges` asks for every edge, for production runs with no
  evaluation planned), and sampling pools and reservoirs only contain train
  items.

Every stage records the split it used in its `summary.json` (`describe`), and
a stage that reads another stage's output refuses it, in one line, when it
was made under another split (`check_same`).
"""

from pipelines import hashing
from pipelines.errors import InputError

SCHEME = "blake2b64-utf8"

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


def describe(test_fraction: float, clustered: str | None = None) -> dict:
  """The `split` record every stage writes into its `summary.json`.

  Args:
    test_fraction: the share of test items.
    clustered: for cluster tables, which edges were clustered: "train_train"
      (the strict cold start) or "all" (`--cluster_all_edges`).

  Returns:
    A JSON-ready dict; `check_same` compares two of them.
  """
  record = {"scheme": SCHEME, "test_fraction": float(test_fraction)}
  if clustered is not None:
    record["clustered_edges"] = clustered
  return record


def check_same(recorded: dict | None, test_fraction: float, what: str) -> None:
  """Refuses, in one line, an input made under another split.

  Args:
    recorded: the `split` record read from the input's summary.json (None or
      empty when the input has none, e.g. hand-made files: then nothing is
      checked).
    test_fraction: the split of the stage that reads the input.
    what: names the input in the message (a path or a stage).

  Raises:
    InputError: the input was made with another scheme or test fraction.
  """
  if not recorded:
    return
  if recorded.get("scheme", SCHEME) != SCHEME or float(
      recorded.get("test_fraction", test_fraction)) != float(test_fraction):
    raise InputError(
        f"{what} was made with split test_fraction={recorded.get('test_fraction')} "
        f"({recorded.get('scheme', SCHEME)}), this run uses test_fraction={test_fraction} "
        f"({SCHEME}): rerun it with --test_fraction={test_fraction} or pass "
        f"--test_fraction={recorded.get('test_fraction')} here")
