"""Positives from the anchor's cluster (`gcml examples --cluster_positives=K`).

The pseudo-label contrastive method (thesis plan in ../shared/seeds/) draws
positives from the anchor's cluster as well as from its graph neighbours.
Each anchor that has graph positives gets up to K more from its L0
cluster's member reservoir (`reservoirs_beam.L0Samples`, a uniform sample of the
cluster): the K members with the smallest seeded hash of (anchor, member)
among the reservoir minus the anchor, minus its neighbours inside the
reservoir (`Anchor.res_nbrs`) and minus its graph positives. An L0 cluster
lies inside the anchor's cluster at every level, so a cluster positive
shares the anchor's cluster id at any `--cluster_id_level`.

The choice depends only on the seed and the ids (deterministic whatever the
runner). Each cluster positive is joined to its dense rank (random negatives
exclude the positive by rank) and appended to the anchor's positives, after
the graph ones; the negatives are then drawn for it as for any positive
(level 0 excludes it from its own slot's draw, `smart_negatives.py`).
Counted as `positives/from_cluster`.

Scale: the anchors of one L0 cluster meet its reservoir in one
`CoGroupByKey` group (L0 clusters are the smallest level). The `SkewJoin`
the negatives use for this join stalls Beam's FnApiRunner here ("watermark-
pending bundles did not execute", the anchors also feeding the final
`CoGroupByKey`), so it is not used.
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines import hashing


def pick_cluster_positives(anchor_id: str, anchor, members, k: int, seed: int) -> list[str]:
  """The anchor's cluster positives: the k eligible reservoir members of smallest hash.

  Args:
    anchor_id: the anchor's id.
    anchor: its `positives.Anchor` (graph positives, `res_nbrs`).
    members: the ids of its L0 cluster's reservoir.
    k: how many at most.
    seed: the run's seed.

  Returns:
    Up to k member ids, in increasing hash order.
  """
  excluded = {anchor_id, *anchor.res_nbrs, *(p for p, _ in anchor.positives)}
  keyed = sorted((hashing.hash64(seed, "cluster_positive", anchor_id, m), m)
                 for m in members if m not in excluded)
  return [m for _, m in keyed[:k]]


def _requests(kv, k, seed):
  _, grouped = kv
  samples = list(grouped["sample"])
  for anchor_id, anchor in grouped["anchor"]:
    chosen = pick_cluster_positives(anchor_id, anchor, samples[0].members, k, seed) \
        if samples else []
    if chosen:
      yield beam.pvalue.TaggedOutput("stats", ("positives/from_cluster", len(chosen)))
    for order, member in enumerate(chosen):
      yield member, (anchor_id, order, member)


def _with_rank(kv):
  _, grouped = kv
  for rank in grouped["rank"]:
    for anchor_id, order, member in grouped["request"]:
      yield anchor_id, (order, member, rank)


def _append(kv):
  anchor_id, grouped = kv
  extra = tuple((member, rank) for _, member, rank in sorted(grouped["extra"]))
  for anchor in grouped["anchor"]:
    yield anchor_id, anchor._replace(positives=anchor.positives + extra)


class ClusterPositivesResult(NamedTuple):
  anchors: beam.PCollection  # (anchor id, Anchor) with the cluster positives appended
  stats: beam.PCollection


@dataclasses.dataclass
class AddClusterPositives(beam.PTransform):
  """((id, Anchor), ((0, c), MemberSample), ItemInfo) -> (id, Anchor) with cluster positives.

  Attributes:
    k: cluster positives per anchor (at most).
    seed: the run's seed.
  """
  k: int
  seed: int

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    anchors, l0_samples, infos = pcolls
    keyed = anchors | "KeyByL0" >> beam.Map(lambda kv: ((0, kv[1].info.path[0]), kv))
    requests = ({"sample": l0_samples, "anchor": keyed} | "JoinReservoir" >> beam.CoGroupByKey()
                | "Pick" >> beam.FlatMap(_requests, self.k, self.seed).with_outputs(
                    "stats", main="requests"))
    ranks = infos | "RankById" >> beam.Map(lambda i: (i.id, i.rank))
    extra = ({"rank": ranks, "request": requests.requests} | "JoinRank" >> beam.CoGroupByKey()
             | "ByAnchor" >> beam.FlatMap(_with_rank))
    merged = ({"anchor": anchors, "extra": extra} | "GroupAnchor" >> beam.CoGroupByKey()
              | "Append" >> beam.FlatMap(_append))
    return ClusterPositivesResult(merged, requests.stats)
