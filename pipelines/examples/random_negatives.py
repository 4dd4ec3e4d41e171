"""Random negatives (CDML, and the smart fall-back above the top level).

A random negative is uniform over the train items with features, other than
the anchor and the positive. Each such item has a dense rank in [0, n)
(`items_beam.DenseRanks`); a triplet draws a uniform rank among the n - 2 ranks
left after removing the anchor's and the positive's (a uniform index in
[0, n - 2) shifted past the removed ranks, so no retry is ever needed), and
the rank is joined to its id. The join is keyed by rank: each rank receives
about (triplets / n) requests, so no key is hot.

Graph neighbours are *not* excluded: CDML samples negatives at random and
relies on online semi-hard mining; with a sparse graph a random item is a
neighbour with probability degree / n, which is negligible at scale (with
tiny test graphs it is not, which is why tests do not assert it).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing
from pipelines.examples.smart_negatives import RANDOM_LEVEL, Triplet


def draw_rank(n: int, excluded: list[int], seed: int, anchor: str, positive: str) -> int | None:
  """A uniform rank in [0, n) minus `excluded`; None when nothing is left.

  Args:
    n: the number of ranks.
    excluded: ranks not to draw (the anchor's and the positive's).
    seed: the run's seed.
    anchor: the anchor's id.
    positive: the positive's id.

  Returns:
    The rank, or None.
  """
  excluded = sorted(set(excluded))
  left = n - len(excluded)
  if left <= 0:
    return None
  r = hashing.pick(left, seed, "random", anchor, positive)
  for e in excluded:
    if r >= e:
      r += 1
  return r


def _requests(kv, n, seed):
  anchor_id, anchor = kv
  for positive, positive_rank in anchor.positives:
    r = draw_rank(n, [anchor.info.rank, positive_rank], seed, anchor_id, positive)
    if r is None:
      yield beam.pvalue.TaggedOutput("stats", ("skipped/no_random_candidate", 1))
    else:
      yield r, (anchor_id, positive)


def _answer(_, grouped):
  ids = grouped["id"]
  if grouped["request"] and len(ids) != 1:
    raise AssertionError(f"rank {_} has {len(ids)} ids; dense ranks are broken")
  for anchor_id, positive in grouped["request"]:
    yield Triplet(anchor_id, positive, ids[0], RANDOM_LEVEL)


class RandomNegativesResult(NamedTuple):
  triplets: beam.PCollection
  stats: beam.PCollection


@dataclasses.dataclass
class RandomNegatives(beam.PTransform):
  """((id, Anchor), (rank, id), singleton n) -> Triplet with level -1."""
  seed: int

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    anchors, ranked_ids, count = pcolls
    requests = anchors | "Draw" >> beam.FlatMap(
        _requests, beam.pvalue.AsSingleton(count), self.seed).with_outputs(
            "stats", main="requests")
    triplets = ({"request": requests.requests, "id": ranked_ids}
                | "JoinRank" >> beam.CoGroupByKey()
                | "Answer" >> beam.FlatMapTuple(_answer))
    return RandomNegativesResult(triplets, requests.stats)
