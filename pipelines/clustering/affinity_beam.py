"""Affinity clustering on Beam: every round a composite transform, all rounds one pipeline.

Collections hold chunks (lists) of plain tuples, moved between workers by
partitioned exchanges (`partitioned.py`). Records:
  round edge  (a, b, value, size_a, size_b), a < b; a node is known by the id
              of its representative item; sizes count original items;
  best        (v, neighbour or None, size_v, size_neighbour);
  label       (v, root, size_v, pair_size): resolved; pair_size > 0 marks
              the two nodes of the mutual pair;  (v, pointer, size_v): not yet;
  member      (v, cluster, cluster_size) after the size cap.

A round (`AffinityRound`; all rounds: `hierarchy_beam.AffinityClustering`):
  BestNeighbours        per chunk, the best candidate per endpoint, then a lifted
                        CombinePerKey keyed by partition that merges those
                        per-node tables (no adjacency list is ever grouped);
  PointerJumpComponents an exchange by best-neighbour pair finds the mutual
                        pairs (roots); then a fixed number of passes, each an
                        exchange join of the unresolved nodes' pointers with
                        the table of all pointers; a pass after everything is
                        resolved sends nothing (gated by a side input of
                        the unresolved counts);
  ContractGraph         an exchange by root sums component sizes and labels
                        the members (size cap), two exchange joins relabel the
                        edge endpoints, and a lifted CombinePerKey applies the
                        linkage to the edges between two clusters.
Passes are fixed when the graph is built (Beam graphs are static): enough for
the deepest possible tree (`round_jump_passes`); a node still unresolved after
the last pass fails the pipeline rather than give a wrong answer.
"""

import dataclasses
import functools
import zlib

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindows

from pipelines.clustering import linkage_weight, tie_hash, within_cap
from pipelines.clustering.contract_beam import ContractGraph
from pipelines.clustering.partitioned import (FLUSH_RECORDS, QUERY, TABLE, chunks,
                                              exchange, group, table_and_queries)

__all__ = ["BestNeighbours", "PointerJumpComponents", "ContractGraph", "AffinityRound"]


@functools.lru_cache(maxsize=1 << 18)
def _tie_key(seed: int, rep: str) -> tuple:
  return tie_hash(seed, rep), rep


def _offer(table, v, w, nbr, size, nbr_size, seed):
  """Keeps the better of two candidates: greater weight (w is its negation), then
  smaller tie hash, then smaller id. w is None for a node's ignored edges."""
  old = table.get(v)
  if old is None:
    table[v] = [w, nbr, size, nbr_size]
  elif w is not None and (old[0] is None or w < old[0] or (
      w == old[0] and _tie_key(seed, nbr) < _tie_key(seed, old[1]))):
    old[0], old[1], old[2], old[3] = w, nbr, size, nbr_size


class _Candidates(beam.DoFn):
  """Edge chunks -> (partition, {node: [-weight, neighbour, size, nbr size]}) per bundle."""

  def __init__(self, seed: int, linkage: str, cap: int, partitions: int):
    self._seed, self._linkage, self._cap, self._partitions = seed, linkage, cap, partitions

  def start_bundle(self):
    self._tables, self._count = {}, 0

  def process(self, chunk):
    tables, partitions, crc, seed = self._tables, self._partitions, zlib.crc32, self._seed
    for edge in chunk:
      if len(edge) == 2:  # an ignored edge: its endpoints exist, nothing more
        (a, b), w, sa, sb = edge, None, 1, 1
      else:
        a, b, value, sa, sb = edge
        w = (-linkage_weight(self._linkage, value, sa, sb)
             if within_cap(self._cap, sa, sb) else None)
      for v, nbr, size, nbr_size in ((a, b, sa, sb), (b, a, sb, sa)):
        p = crc(v.encode("utf-8")) % partitions
        table = tables.get(p)
        if table is None:
          table = tables[p] = {}
        _offer(table, v, w, nbr, size, nbr_size, seed)
    self._count += len(chunk)
    if self._count >= FLUSH_RECORDS:
      yield from self._drain()

  def _drain(self):
    tables, self._tables, self._count = self._tables, {}, 0
    return tables.items()

  def finish_bundle(self):
    for element in self._drain():
      yield GlobalWindows.windowed_value(element)


class _MergeBest(beam.CombineFn):
  """Merges per-node candidate tables (see `_offer`)."""

  def __init__(self, seed: int):
    self._seed = seed

  def create_accumulator(self):
    return {}

  def add_input(self, acc, table):
    if not acc:
      return table
    if len(table) > len(acc):
      acc, table = table, acc
    for v, (w, nbr, size, nbr_size) in table.items():
      _offer(acc, v, w, nbr, size, nbr_size, self._seed)
    return acc

  def merge_accumulators(self, accs):
    out = {}
    for acc in accs:
      out = self.add_input(out, acc)
    return out

  def extract_output(self, acc):
    return acc


def _best_records(_, table):
  return chunks([(v, e[1] if e[0] is not None else None, e[2], e[3])
                 for v, e in table.items()])


@dataclasses.dataclass
class BestNeighbours(beam.PTransform):
  """Chunks of round edges [and ignored (a, b)] -> chunks of best records."""
  partitions: int
  seed: int = 0
  linkage: str = "max"
  max_cluster_size: int = 0

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    edges = (pcolls if isinstance(pcolls, tuple) else (pcolls,)) | "Edges" >> beam.Flatten()
    return (edges
            | "Candidates" >> beam.ParDo(_Candidates(
                self.seed, self.linkage, self.max_cluster_size, self.partitions))
            | "Best" >> beam.CombinePerKey(_MergeBest(self.seed))
            | "BestRecords" >> beam.FlatMapTuple(_best_records))


def _tagged_chunks(main, side, tag):
  for part in chunks(main):
    yield part
  for part in chunks(side):
    yield beam.pvalue.TaggedOutput(tag, part)


def _initial_states(_, tagged):
  """Mutual pair: both resolved to the smaller id. Otherwise: points at the neighbour."""
  pairs = {}
  for _, records in tagged:
    for b in records:
      pairs.setdefault((b[0], b[1]) if b[0] < b[1] else (b[1], b[0]), []).append(b)
  done, active = [], []
  for (root, _), members in pairs.items():
    if len(members) == 2:
      pair_size = members[0][2] + members[0][3]
      done.extend((v, root, size, pair_size) for v, _, size, _ in members)
    else:
      v, nbr, size, _ = members[0]
      active.append((v, nbr, size))
  return _tagged_chunks(done, active, "active")


def _jump(_, tagged):
  """A node moves to its pointer's pointer; it is resolved if its pointer was."""
  table, done, active = {}, [], []
  build = lambda records: table.update((s[0], (s[1], len(s) == 4)) for s in records)  # noqa: E731
  for v, pointer, size in table_and_queries(tagged, build):
    target, resolved = table[pointer]
    (done if resolved else active).append((v, target, size, 0) if resolved else (v, target, size))
  return _tagged_chunks(done, active, "active")


def _not_converged(passes):
  def fail(chunk):
    raise RuntimeError(f"affinity clustering: pointer jumping left node {chunk[0][0]!r} "
                       f"unresolved after {passes} passes; raise --jump_passes")
  return fail


@dataclasses.dataclass
class PointerJumpComponents(beam.PTransform):
  """Chunks of best records -> chunks of resolved label records (nodes with a best)."""
  passes: int
  partitions: int

  def __post_init__(self):
    super().__init__()

  def expand(self, best):
    n = self.partitions
    linked = best | "Linked" >> beam.Map(lambda c: [b for b in c if b[1] is not None])
    init = (group("Pairs", exchange(linked, "ByPair", lambda b: min(b[0], b[1]), n))
            | "InitialStates" >> beam.FlatMapTuple(_initial_states).with_outputs(
                "active", main="done"))
    resolved, active = [init.done], init.active
    for k in range(self.passes):
      unresolved = beam.pvalue.AsList(active | f"Unresolved{k}" >> beam.Map(len))
      states = tuple(resolved) + (active,) | f"States{k}" >> beam.Flatten()
      step = (group(f"Pass{k}",
                    exchange(states, f"Pointers{k}", lambda s: s[0], n, TABLE, unresolved),
                    exchange(active, f"Queries{k}", lambda s: s[1], n, QUERY))
              | f"Jump{k}" >> beam.FlatMapTuple(_jump).with_outputs("active", main="done"))
      resolved.append(step.done)
      active = step.active
    _ = active | "CheckConverged" >> beam.Map(_not_converged(self.passes))
    return tuple(resolved) | "Labels" >> beam.Flatten()


@dataclasses.dataclass
class AffinityRound(beam.PTransform):
  """(edge chunks[, ignored chunks]) -> (best, member, contracted edge chunks)."""
  passes: int
  partitions: int
  seed: int = 0
  linkage: str = "max"
  max_cluster_size: int = 0

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    edges = pcolls[0] if isinstance(pcolls, tuple) else pcolls
    best = pcolls | "BestNeighbours" >> BestNeighbours(
        self.partitions, self.seed, self.linkage, self.max_cluster_size)
    labels = best | "Components" >> PointerJumpComponents(self.passes, self.partitions)
    contracted, members = (edges, labels) | "Contract" >> ContractGraph(
        self.partitions, self.linkage, self.max_cluster_size)
    return best, members, contracted
