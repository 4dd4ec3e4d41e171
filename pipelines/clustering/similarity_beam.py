"""Edge weights derived from the graph itself (`--similarity`), on Beam.

The same weights as `similarity_local` (see there for the formulas and the
bound), by the same triangle listing:

  Degrees        a CombinePerKey of the edge ends;
  DegreeA/B      two exchange joins (partitioned.py) of the edges with the
                 degree table, by one end then the other: a partition's table
                 is at most its share of the nodes, a hub's edges are streamed;
  OutNeighbours  a GroupByKey of each edge under its lower end in (degree, id)
                 order: a node's group holds at most sqrt(2m) out-neighbours;
  Wedges         each pair of a node's out-neighbours, keyed by the pair;
  Close          an exchange join of the wedges with the edge set (a partition's
                 table is its share of the edges): a wedge whose pair is an
                 edge is a triangle, and gives each of its three edges one
                 common neighbour and that neighbour's 1 / ln(degree);
  Weights        a lifted CombinePerKey per edge of the count and the exact
                 partial sums (`combiners.add_exact`), rounded once.
"""

import dataclasses
import math

import apache_beam as beam

from pipelines.combiners import add_exact
from pipelines.clustering.partitioned import TABLE, Chunk, chunks, exchange, group, \
    table_and_queries
from pipelines.io.edge_records import Edge


def _pair_key(record):
  return record[0] + "\t" + record[1]


def _with_degree(_, tagged):
  """(a, b, ...) queries -> (b, a, ..., degree of a): the other end comes first."""
  table = {}
  build = lambda records: table.update(records)  # noqa: E731
  return chunks((r[1], r[0], *r[2:], table[r[0]]) for r in table_and_queries(tagged, build))


def _orient(chunk):
  """(a, b, d_a, d_b) -> (lower end, (higher end, its degree, lower end's degree)),
  in (degree, id) order."""
  for a, b, d_a, d_b in chunk:
    if (d_a, a) < (d_b, b):
      yield a, (b, d_b, d_a)
    else:
      yield b, (a, d_a, d_b)


def _wedges(low, out):
  """(w, [(x, d_x, d_w)]) -> chunks of wedges (u, v, w, d_u, d_v, d_w), u < v."""
  out = sorted(out)
  wedges = []
  for i, (x, d_x, d_w) in enumerate(out):
    for y, d_y, _ in out[i + 1:]:
      wedges.append((x, y, low, d_x, d_y, d_w))
  return chunks(wedges)


def _inverse_log(d: int) -> float:
  return 1.0 / math.log(d)


def _close(_, tagged):
  """Wedges whose pair is an edge: one (edge, (1, [term])) per triangle edge."""
  edges = set()
  build = lambda records: edges.update((r[0], r[1]) for r in records)  # noqa: E731
  for u, v, w, d_u, d_v, d_w in table_and_queries(tagged, build):
    if (u, v) in edges:
      yield (u, v), (1, [_inverse_log(d_w)], 0)
      yield (min(w, u), max(w, u)), (1, [_inverse_log(d_v)], 0)
      yield (min(w, v), max(w, v)), (1, [_inverse_log(d_u)], 0)


class _Common(beam.CombineFn):
  """(common neighbours, exact partials of their 1 / ln degree, d_a + d_b)."""

  def create_accumulator(self):
    return (0, [], 0)

  def add_input(self, acc, value):
    partials = acc[1]
    for x in value[1]:
      partials = add_exact(partials, x)
    return (acc[0] + value[0], partials, acc[2] + value[2])

  def merge_accumulators(self, accs):
    out = self.create_accumulator()
    for acc in accs:
      out = self.add_input(out, acc)
    return out

  def extract_output(self, acc):
    return acc


def _weight(similarity):
  def weight(pair, acc):
    common, partials, degrees = acc
    value = (float(common + 2) / float(degrees - common) if similarity == "jaccard"
             else math.fsum(partials))
    return Edge(pair[0], pair[1], value)
  return weight


@dataclasses.dataclass
class SimilarityWeights(beam.PTransform):
  """Edges (src < dst, unique) -> the same edges weighted by `similarity`."""
  similarity: str
  partitions: int

  def __post_init__(self):
    super().__init__()
    if self.similarity not in ("jaccard", "adamic_adar"):
      raise ValueError(f"unknown similarity {self.similarity!r}")

  def expand(self, edges):
    n = self.partitions
    pairs = edges | "Pairs" >> beam.Map(lambda e: (e.src, e.dst))
    degrees = (pairs
               | "Ends" >> beam.FlatMap(lambda p: ((p[0], 1), (p[1], 1)))
               | "Degrees" >> beam.CombinePerKey(sum)
               | "ChunkDegrees" >> beam.ParDo(Chunk()))
    chunked = pairs | "ChunkPairs" >> beam.ParDo(Chunk())
    with_a = (group("DegreeA", exchange(degrees, "DegreesA", lambda r: r[0], n, TABLE),
                    exchange(chunked, "EdgesByA", lambda r: r[0], n))
              | "JoinA" >> beam.FlatMapTuple(_with_degree))
    annotated = (group("DegreeB", exchange(degrees, "DegreesB", lambda r: r[0], n, TABLE),
                       exchange(with_a, "EdgesByB", lambda r: r[0], n))
                 | "JoinB" >> beam.FlatMapTuple(_with_degree))
    wedges = (annotated
              | "Orient" >> beam.FlatMap(_orient)
              | "OutNeighbours" >> beam.GroupByKey()
              | "Wedges" >> beam.FlatMapTuple(_wedges))
    contributions = (group("Close", exchange(chunked, "EdgeSet", _pair_key, n, TABLE),
                           exchange(wedges, "WedgesByPair", _pair_key, n))
                     | "Triangles" >> beam.FlatMapTuple(_close))
    # JoinB gives (a, b, d_a, d_b): the edge with the sum of its end degrees.
    bases = annotated | "Bases" >> beam.FlatMap(
        lambda chunk: [((a, b), (0, [], d_a + d_b)) for a, b, d_a, d_b in chunk])
    return ((bases, contributions)
            | "AllTerms" >> beam.Flatten()
            | "Common" >> beam.CombinePerKey(_Common())
            | "Weights" >> beam.MapTuple(_weight(self.similarity)))
