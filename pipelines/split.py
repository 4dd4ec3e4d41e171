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
VALIDATION_FRACTION = 0.1
_SCALE = float(2**64)


def split_hash(item_id: str) -> int:
  """The 64-bit split hash of an id (BLAKE2b-64 of its UTF-8 bytes).

  Args:
    item_id: the item's id.

  Returns:
    An unsigned 64-bit integer.
  """
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


def is_validation(item_id: str, validation_fraction: float = VALIDATION_FRACTION) -> bool:
  """True when the item is held out of training for model selection.

  Validation items are the top `validation_fraction` of the hash range, test
  items the bottom `test_fraction`: the two never overlap (while the
  fractions sum to at most 1), and changing one fraction never moves an item
  of the other part.

  Args:
    item_id: the item's id.
    validation_fraction: the validation share.

  Returns:
    Whether the item is a validation item.
  """
  if not 0.0 <= validation_fraction <= 1.0:
    raise ValueError(f"validation_fraction must be in [0, 1], got {validation_fraction}")
  return split_hash(item_id) >= (1.0 - validation_fraction) * _SCALE


def is_train(item_id: str, test_fraction: float = TEST_FRACTION,
             validation_fraction: float = VALIDATION_FRACTION) -> bool:
  """True when the item may be used for clustering and training examples.

  Args:
    item_id: the item's id.
    test_fraction: the test share of the split.
    validation_fraction: the validation share.

  Returns:
    Whether the item is a train item.
  """
  return not is_test(item_id, test_fraction) and not is_validation(item_id, validation_fraction)


def split_of(item_id: str, test_fraction: float = TEST_FRACTION,
             validation_fraction: float = VALIDATION_FRACTION) -> str:
  """`"test"`, `"validation"` or `"train"`.

  Args:
    item_id: the item's id.
    test_fraction: the test share of the split.
    validation_fraction: the validation share.

  Returns:
    `"test"`, `"validation"` or `"train"`.
  """
  if is_test(item_id, test_fraction):
    return "test"
  return "validation" if is_validation(item_id, validation_fraction) else "train"


def check_fractions(test_fraction: float, validation_fraction: float) -> None:
  """One-line InputError unless both fractions are in [0, 1] and sum to at most 1.

  Args:
    test_fraction: the test share of the split.
    validation_fraction: the validation share.
  """
  if not 0.0 <= test_fraction <= 1.0:
    raise InputError(f"--test_fraction must be in [0, 1], got {test_fraction}")
  if not 0.0 <= validation_fraction <= 1.0 or test_fraction + validation_fraction > 1.0:
    raise InputError(f"--validation_fraction must be in [0, 1] and at most "
                     f"1 - --test_fraction={test_fraction}, got {validation_fraction}")


def describe(test_fraction: float, validation_fraction: float = VALIDATION_FRACTION,
             clustered: str | None = None) -> dict:
  """The `split` record every stage writes into its `summary.json`.

  Args:
    test_fraction: the share of test items.
    validation_fraction: the share of validation items (held out of training
      for model selection).
    clustered: for cluster tables, which edges were clustered: "train_train"
      (the strict cold start) or "all" (`--cluster_all_edges`).

  Returns:
    A JSON-ready dict; `check_same` compares two of them.
  """
  record = {"scheme": SCHEME, "test_fraction": float(test_fraction),
            "validation_fraction": float(validation_fraction)}
  if clustered is not None:
    record["clustered_edges"] = clustered
  return record


def check_same(recorded: dict | None, test_fraction: float, what: str,
               validation_fraction: float | None = None) -> None:
  """Refuses, in one line, an input made under another split.

  Args:
    recorded: the `split` record read from the input's summary.json (None or
      empty when the input has none, e.g. hand-made files: then nothing is
      checked).
    test_fraction: the split of the stage that reads the input.
    what: names the input in the message (a path or a stage).
    validation_fraction: also compared when given (stages that hold out
      validation items; evaluation needs only the test part to agree).

  Returns:
    None; the input agrees (or records no split).

  Raises:
    InputError: the input was made with another scheme or other fractions.
  """
  if not recorded:
    return
  mine = {"test_fraction": float(test_fraction)}
  if validation_fraction is not None:
    mine["validation_fraction"] = float(validation_fraction)
  theirs = {k: float(recorded.get(k, v)) for k, v in mine.items()}
  if recorded.get("scheme", SCHEME) != SCHEME or theirs != mine:
    def show(d):
      return " ".join(f"{k}={v}" for k, v in d.items())
    raise InputError(
        f"{what} was made with split {show(theirs)} ({recorded.get('scheme', SCHEME)}), this "
        f"run uses {show(mine)} ({SCHEME}): rerun it with the same fractions, or pass "
        f"{' '.join(f'--{k}={v}' for k, v in theirs.items())} here")
