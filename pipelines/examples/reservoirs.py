"""Bounded, order-independent cluster samples ("reservoirs").

A reservoir is a *bottom-k by hash*: of all (train, featured) members of a
cluster it keeps the k with the smallest seeded hash of their id, plus the
exact member count. Bottom-k is a combiner (the bottom-k of the union is the
bottom-k of the bottom-k's), so it is computed with combiner lifting before
the shuffle, no worker ever holds a whole cluster, and the result does not
depend on bundle order. Reservoir membership does not depend on anything but
the id, so a reservoir is a uniform random sample of its cluster.

Two kinds of samples serve the smart negatives (`smart_negatives.py`):

* `MemberSample` per L0 cluster: (size, k members). Level 0 excludes the
  anchor and its neighbours by id, which needs the members themselves.
* `ParentSample` per level-l cluster (l >= 1): the exact number of non-empty
  children (level-(l-1) clusters inside it), and a bottom-`max_children`
  sample of them, each with its size and its own bottom-k members. The pool
  at level l (the parent minus the anchor's own child) is non-empty exactly
  when the parent has at least two non-empty children, and then the sample
  always holds a child other than the anchor's (it holds min(children,
  max_children) >= 2 of them), so emptiness is decided exactly.
"""

from typing import NamedTuple

from pipelines import hashing

DEFAULT_RESERVOIR_SIZE = 256
DEFAULT_MAX_CHILDREN = 16


class MemberSample(NamedTuple):
  """An L0 cluster's train members with features: exact size, bottom-k ids."""
  size: int
  members: tuple  # ids in increasing seeded-hash order


class Child(NamedTuple):
  id: str  # the child cluster's id (level l-1)
  size: int  # its train members with features
  members: tuple  # bottom-k ids of those members


class ParentSample(NamedTuple):
  """A level-l cluster (l >= 1): exact number of children, a sample of them."""
  num_children: int
  children: tuple  # Child, in increasing seeded-hash order of the child id


def member_hash(seed: int, level: int, item_id: str) -> int:
  """
  Args:
    seed: the run's seed.
    level: the reservoir's level.
    item_id: the member.

  Returns:
    The member's key; the smallest keys are the reservoir.
  """
  return hashing.hash64(seed, "reservoir", level, item_id)
