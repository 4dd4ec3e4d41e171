"""Negatives that are never graph neighbours of their anchor.

At levels >= 1 a smart negative is drawn from the anchor's sibling clusters,
whose members the anchor's own adjacency does not bound: a sibling member
can still be a graph neighbour of the anchor (or the positive itself, which
is always a neighbour). `ExcludeNeighbours` settles this with a join instead
of collecting any adjacency list: every (anchor, positive) slot arrives with
a short, ordered list of candidate negatives (the seeded draws 0, 1, ...,
`--negative_draws` - 1 of `smart_negatives.ResolveLevel`); each
(anchor, candidate) pair is looked up in the edge set, keyed by the
unordered pair, and the slot keeps its first candidate that is not a
neighbour. Work is one shuffle of the edges plus one of the candidate pairs,
and one group of at most `negative_draws` values per slot: bounded memory,
no hot keys (a pair key holds at most one edge), and the choice depends only
on the draw order, so the output is the same on every runner and worker
count.

Counted: `negatives/neighbour_draws_skipped` (candidates passed over because
they were neighbours) and, per level, `fallback/level_<l>_draws_all_neighbours`
(slots whose every draw was a neighbour; they go on to a random negative).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam


class Candidates(NamedTuple):
  """An (anchor, positive) slot and its negative draws, in draw order."""
  anchor: str
  positive: str
  level: int
  draws: tuple  # candidate negative ids
  anchor_info: tuple  # the anchor's ItemInfo (for a random fall-back)
  positive_rank: int


def pair_key(a: str, b: str) -> tuple:
  """The key of an undirected edge: its two ids in sorted order.

  Args:
    a: one id.
    b: the other id.

  Returns:
    (min, max).
  """
  return (a, b) if a < b else (b, a)


def _probes(slot):
  # Plain tuples cross the shuffles (NamedTuples pickle slowly).
  anchor, positive, level, draws = slot[0], slot[1], slot[2], slot[3]
  for i, candidate in enumerate(draws):
    yield pair_key(anchor, candidate), ((anchor, positive, level), i)


def _answers(_, grouped):
  is_neighbour = bool(grouped["edge"])
  for slot_key, i in grouped["probe"]:
    yield slot_key, (i, is_neighbour)


def _choose(slot: Candidates, answers):
  """Keeps the first draw that is not a neighbour; else sends the slot on."""
  answers = sorted(answers)
  for i, is_neighbour in answers:
    if not is_neighbour:
      if i:
        yield beam.pvalue.TaggedOutput("stats", ("negatives/neighbour_draws_skipped", i))
      yield (slot.anchor, slot.positive, slot.draws[i], slot.level)
      return
  yield beam.pvalue.TaggedOutput("stats", ("negatives/neighbour_draws_skipped", len(answers)))
  yield beam.pvalue.TaggedOutput(
      "stats", (f"fallback/level_{slot.level}_draws_all_neighbours", 1))
  yield beam.pvalue.TaggedOutput("exhausted", slot)


def _with_slot(grouped):
  slot_key, values = grouped
  slots, answers = values["slot"], values["answer"]
  if len(slots) != 1:
    raise AssertionError(f"slot {slot_key} appears {len(slots)} times")
  yield from _choose(Candidates(*slots[0]), answers)


class ExcludeNeighboursResult(NamedTuple):
  chosen: beam.PCollection  # (anchor, positive, negative, level)
  exhausted: beam.PCollection  # Candidates whose every draw is a neighbour
  stats: beam.PCollection


@dataclasses.dataclass
class ExcludeNeighbours(beam.PTransform):
  """(Candidates, edges) -> the first non-neighbour draw of every slot.

  Input: a pair of PCollections: `Candidates` (one per slot, as plain
  tuples or NamedTuples) and the edges (anything with `src` and `dst`).
  """

  def __post_init__(self):
    super().__init__()

  def expand(self, pcolls):
    candidates, edges = pcolls
    probes = candidates | "Probes" >> beam.FlatMap(_probes)
    edge_keys = edges | "EdgeKeys" >> beam.Map(lambda e: (pair_key(e.src, e.dst), 1))
    answers = ({"edge": edge_keys, "probe": probes}
               | "LookUpPairs" >> beam.CoGroupByKey()
               | "Answers" >> beam.FlatMapTuple(_answers))
    slots = candidates | "KeyBySlot" >> beam.Map(lambda c: ((c[0], c[1], c[2]), tuple(c)))
    chosen = ({"slot": slots, "answer": answers}
              | "JoinAnswers" >> beam.CoGroupByKey()
              | "Choose" >> beam.FlatMap(_with_slot).with_outputs(
                  "stats", "exhausted", main="chosen"))
    return ExcludeNeighboursResult(chosen.chosen, chosen.exhausted, chosen.stats)
