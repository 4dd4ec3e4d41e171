"""Negatives that are never graph neighbours of their anchor.

At levels >= 1 a smart negative is drawn from the anchor's sibling clusters,
whose members the anchor's own adjacency does not bound: a sibling member
can still be a graph neighbour of the anchor (or the positive itself, which
is always a neighbour). `ExcludeNeighbours` settles this with a join instead
of collecting any adjacency list: every (anchor, positive) slot arrives with
a short, ordered list of candidate negatives (the seeded draws 0, 1, ...,
`--negative_draws` - 1 of `smart_negatives_beam.ResolveLevel`); each
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

from typing import NamedTuple

from pipelines import beam_parts

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


def _choose(slot: Candidates, answers):
  """Keeps the first draw that is not a neighbour; else sends the slot on."""
  answers = sorted(answers)
  for i, is_neighbour in answers:
    if not is_neighbour:
      if i:
        yield beam_parts.tagged_output("stats", ("negatives/neighbour_draws_skipped", i))
      yield (slot.anchor, slot.positive, slot.draws[i], slot.level)
      return
  yield beam_parts.tagged_output("stats", ("negatives/neighbour_draws_skipped", len(answers)))
  yield beam_parts.tagged_output(
      "stats", (f"fallback/level_{slot.level}_draws_all_neighbours", 1))
  yield beam_parts.tagged_output("exhausted", slot)
