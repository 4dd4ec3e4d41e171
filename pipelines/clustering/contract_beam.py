"""ContractGraph: the contraction step of a Beam affinity round (see affinity_beam.py).

(edge chunks, label chunks) -> (contracted edge chunks, member chunks):
  `Components`  exchange of the labels by root: component sizes (first pass over
                the partition), then each member's cluster under the size cap
                (second pass); a component is streamed, never held;
  `RelabelA/B`  exchange joins of the edges with the member table, by one end
                then the other; edges inside a cluster are dropped and the rest
                pre-combined per (cluster, cluster) in each reduce;
  `Linkage`     a lifted CombinePerKey keyed by partition: max, or exact
                partial sums (`combiners.add_exact`) rounded once by `math.fsum`.
A member record is (node, cluster, cluster size in items); a contracted edge
(c1, c2, value, size1, size2) with c1 < c2; for `average` the value is the
exact sum and the division happens when a node compares its candidates.
"""

import dataclasses
import math

import apache_beam as beam

from pipelines.combiners import add_exact
from pipelines.clustering.partitioned import (TABLE, chunks, exchange, group,
                                              pair_partition, table_and_queries)


def _members(cap):
  def members(_, tagged):
    """Component sizes by root (first pass), then each member's cluster (second)."""
    total = {}
    for _, records in tagged:
      for _, root, size, _ in records:
        total[root] = total.get(root, 0) + size
    out = []
    for _, records in tagged:
      for v, root, size, pair_size in records:
        if cap and total[root] > cap:
          out.append((v, root, pair_size) if pair_size else (v, v, size))
        else:
          out.append((v, root, total[root]))
    return chunks(out)
  return members


def _member_table(table):
  return lambda records: table.update((m[0], (m[1], m[2])) for m in records)


def _relabel_a(_, tagged):
  table = {}
  out = []
  for a, b, value, sa, sb in table_and_queries(tagged, _member_table(table)):
    la, size_a = table.get(a) or (a, sa)
    out.append((b, la, size_a, value, sb))
  return chunks(out)


def _relabel_b(linkage, partitions):
  def relabel(_, tagged):
    """Relabels b, drops edges inside a cluster, pre-combines per (cluster, cluster)."""
    table, parts = {}, {}
    for b, la, size_a, value, sb in table_and_queries(tagged, _member_table(table)):
      lb, size_b = table.get(b) or (b, sb)
      if la == lb:
        continue
      key = (la, lb, size_a, size_b) if la < lb else (lb, la, size_b, size_a)
      part = parts.setdefault(pair_partition(key[0], key[1], partitions), {})
      _add_linkage(linkage, part, key, [value] if linkage != "max" else value)
    return parts.items()
  return relabel


def _add_linkage(linkage, acc, key, value):
  old = acc.get(key)
  if linkage == "max":
    acc[key] = value if old is None or value > old else old
  elif old is None:
    acc[key] = list(value)
  else:
    for x in value:
      old = add_exact(old, x)
    acc[key] = old


class _MergeLinkage(beam.CombineFn):
  """{(c1, c2, size1, size2): max or exact partials} tables, merged."""

  def __init__(self, linkage: str):
    self._linkage = linkage

  def create_accumulator(self):
    return {}

  def add_input(self, acc, table):
    for key, value in table.items():
      _add_linkage(self._linkage, acc, key, value)
    return acc

  def merge_accumulators(self, accs):
    out = {}
    for acc in accs:
      self.add_input(out, acc)
    return out

  def extract_output(self, acc):
    return acc


def _contracted_records(linkage):
  def records(_, table):
    return chunks((k[0], k[1], v if linkage == "max" else math.fsum(v), k[2], k[3])
                  for k, v in table.items())
  return records


@dataclasses.dataclass
class ContractGraph(beam.PTransform):
  """(edge chunks, label chunks) -> (contracted edge chunks, member chunks)."""
  partitions: int
  linkage: str = "max"
  max_cluster_size: int = 0

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    edges, labels, n = pcolls[0], pcolls[1], self.partitions
    members = (group("Components", exchange(labels, "ByRoot", lambda r: r[1], n))
               | "Members" >> beam.FlatMapTuple(_members(self.max_cluster_size)))
    by_b = (group("RelabelA", exchange(members, "MembersA", lambda m: m[0], n, TABLE),
                  exchange(edges, "EdgesByA", lambda e: e[0], n))
            | "NewA" >> beam.FlatMapTuple(_relabel_a))
    contracted = (group("RelabelB", exchange(members, "MembersB", lambda m: m[0], n, TABLE),
                        exchange(by_b, "EdgesByB", lambda e: e[0], n))
                  | "NewB" >> beam.FlatMapTuple(_relabel_b(self.linkage, n))
                  | "Linkage" >> beam.CombinePerKey(_MergeLinkage(self.linkage))
                  | "ContractedEdges" >> beam.FlatMapTuple(_contracted_records(self.linkage)))
    return contracted, members
