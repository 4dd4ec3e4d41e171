"""Per-item facts the samplers need: `ItemInfo`, dense ranks, reservoir flags.

An `ItemInfo` exists for every *train* item that has features (the only
items that may appear in an example). It carries:

* `rank`: a dense rank in [0, n) over those items, in seeded-hash order
  (`DenseRanks`), so a uniform random item is "the item at a uniform rank"
  (random negatives, `random_negatives.py`);
* `path`: the item's cluster at every level from the assignment table, or
  None when the item has no row (it can then be a positive or a random
  negative, but not a smart anchor nor a smart negative);
* `in_res0`: whether the item is in its L0 cluster's member reservoir (set
  for `--level=0`; it lets level 0 find an anchor's neighbours inside the
  reservoir from the edges alone).

Items in the tables without features are counted
(`items/assigned_without_features`) and skipped; duplicate table rows for an
id keep the row that sorts first and reject the others.
"""

from typing import NamedTuple


BUCKET_BITS = 16


class ItemInfo(NamedTuple):
  id: str
  rank: int
  path: tuple | None
  in_res0: bool = False
