"""All the rounds of affinity clustering on Beam, and which rounds become the levels.

`AffinityClustering` runs `len(passes)` rounds (`affinity_beam.AffinityRound`)
in one pipeline, composes every item's cluster round after round, and keeps
the rounds that become L0..L{levels-1}: rounds K..K+levels-1, where K is
`first_round`, or, with `target_l0_size`, chosen when the job runs by
`choose_first_round` from the item count and the nodes merged per round (a
side input; the graph itself stays static).
"""

import dataclasses

import apache_beam as beam

from pipelines.clustering import choose_first_round
from pipelines.clustering.affinity_beam import AffinityRound
from pipelines.clustering.partitioned import TABLE, Chunk, chunks, exchange, group, \
    table_and_queries


def _compose(_, tagged):
  table = {}
  build = lambda records: table.update((m[0], m[1]) for m in records)  # noqa: E731
  return chunks((x, reps + (table.get(reps[-1], reps[-1]),))
                for x, reps in table_and_queries(tagged, build))


def _count(pcoll, label: str, name: str, keep=None):
  """(name, number of records in the chunks [that `keep` accepts])."""
  size = len if keep is None else (lambda chunk: sum(1 for x in chunk if keep(x)))
  return (pcoll
          | f"{label}Count" >> beam.Map(size)
          | f"{label}Sum" >> beam.CombineGlobally(sum)
          | f"{label}Stat" >> beam.Map(lambda n: (name, n)))


def _first_round(stats, first_round: int, target: int, searched: int):
  """The L0 round from the ("items" | "rounds/<r>/merged", n) stats."""
  stats = dict(stats)
  merged = [stats.get(f"rounds/{r}/merged", 0) for r in range(1, searched + 1)]
  return choose_first_round(stats.get("items", 0), merged, first_round, target)


@dataclasses.dataclass
class AffinityClustering(beam.PTransform):
  """(edges (a, b, w, 1, 1), ignored (a, b)), single records -> (assignments, stats).

  assignments: (item, (rep at L0, rep at L1, ...)) for every item of any edge;
  stats: ("items", n) and, per round r (1-based), (f"rounds/{r}/edges_left", n)
  (edges of the contracted graph after the round) and (f"rounds/{r}/merged", n)
  (nodes that joined another node's cluster: 0 when the round changed nothing).
  Rounds built: len(passes), at least first_round + levels - 1; with a target
  L0 size the L0 round is searched among rounds first_round..len(passes) -
  levels + 1.
  """
  levels: int
  passes: list
  partitions: int = 8
  seed: int = 0
  linkage: str = "max"
  max_cluster_size: int = 0
  first_round: int = 1
  target_l0_size: int = 0

  def __post_init__(self):
    super().__init__()
    if len(self.passes) < self.first_round + self.levels - 1:
      raise ValueError(f"{len(self.passes)} rounds cannot give levels from round "
                       f"{self.first_round} to {self.first_round + self.levels - 1}")

  def expand(self, pcolls):
    edges, ignored = (pc | f"Chunk{i}" >> beam.ParDo(Chunk()) for i, pc in enumerate(pcolls))
    round_input, stats, assignments, n = (edges, ignored), [], None, self.partitions
    for r in range(1, len(self.passes) + 1):
      label = f"Round{r - 1}"  # the labels of the first three rounds stay those of L0..L2
      best, members, contracted = round_input | label >> AffinityRound(
          self.passes[r - 1], n, self.seed, self.linkage, self.max_cluster_size)
      stats.append(_count(contracted, f"EdgesLeft{r}", f"rounds/{r}/edges_left"))
      stats.append(_count(members, f"Merged{r}", f"rounds/{r}/merged", lambda m: m[0] != m[1]))
      if assignments is None:
        assignments = (
            (members | "Labelled" >> beam.Map(lambda c: [(m[0], (m[1],)) for m in c]),
             best | "Unlinked" >> beam.Map(lambda c: [(b[0], (b[0],)) for b in c if b[1] is None]))
            | "ItemsL0" >> beam.Flatten())
      else:
        assignments = (group(f"ComposeL{r - 1}",
                             exchange(members, f"LabelsL{r - 1}", lambda m: m[0], n, TABLE),
                             exchange(assignments, f"ItemsByRepL{r - 1}", lambda a: a[1][-1], n))
                       | f"AppendL{r - 1}" >> beam.FlatMapTuple(_compose))
      round_input = contracted
    stats.append(_count(assignments, "Items", "items"))
    stats = tuple(stats) | "RoundStats" >> beam.Flatten()
    items = assignments | "Assignments" >> beam.FlatMap(lambda c: c)
    levels = self.levels
    if self.target_l0_size:
      searched = len(self.passes) - levels + 1
      first = (stats
               | "AllRoundStats" >> beam.combiners.ToList()
               | "FirstRound" >> beam.Map(_first_round, self.first_round, self.target_l0_size,
                                          searched))
      items = items | "KeepLevels" >> beam.Map(
          lambda item, k: (item[0], item[1][k - 1:k - 1 + levels]),
          beam.pvalue.AsSingleton(first))
    elif self.first_round > 1 or len(self.passes) > levels:
      k = self.first_round
      items = items | "KeepLevels" >> beam.MapTuple(
          lambda x, reps: (x, reps[k - 1:k - 1 + levels]))
    return items, stats
