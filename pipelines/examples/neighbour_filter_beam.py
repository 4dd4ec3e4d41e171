"""The Beam transforms of `neighbour_filter`.

Kept apart so that the in-memory engines import `neighbour_filter` without Beam
(`pipelines/beam_parts.py`).
"""

import dataclasses
from typing import NamedTuple

import apache_beam as beam

from pipelines.examples import neighbour_filter


def _probes(slot):
  # Plain tuples cross the shuffles (NamedTuples pickle slowly).
  anchor, positive, level, draws = slot[0], slot[1], slot[2], slot[3]
  for i, candidate in enumerate(draws):
    yield neighbour_filter.pair_key(anchor, candidate), ((anchor, positive, level), i)


def _answers(_, grouped):
  is_neighbour = bool(grouped["edge"])
  for slot_key, i in grouped["probe"]:
    yield slot_key, (i, is_neighbour)


def _with_slot(grouped):
  slot_key, values = grouped
  slots, answers = values["slot"], values["answer"]
  if len(slots) != 1:
    raise AssertionError(f"slot {slot_key} appears {len(slots)} times")
  yield from neighbour_filter._choose(neighbour_filter.Candidates(*slots[0]), answers)


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
    edge_keys = edges | "EdgeKeys" >> beam.Map(
        lambda e: (neighbour_filter.pair_key(e.src, e.dst), 1))
    answers = ({"edge": edge_keys, "probe": probes}
               | "LookUpPairs" >> beam.CoGroupByKey()
               | "Answers" >> beam.FlatMapTuple(_answers))
    slots = candidates | "KeyBySlot" >> beam.Map(lambda c: ((c[0], c[1], c[2]), tuple(c)))
    chosen = ({"slot": slots, "answer": answers}
              | "JoinAnswers" >> beam.CoGroupByKey()
              | "Choose" >> beam.FlatMap(_with_slot).with_outputs(
                  "stats", "exhausted", main="chosen"))
    return ExcludeNeighboursResult(chosen.chosen, chosen.exhausted, chosen.stats)
