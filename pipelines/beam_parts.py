"""Beam transforms kept apart from the functions the in-memory engines share.

A module whose rules both engines apply (`io/features.py`, `io/rejected.py`,
...) keeps its Beam transforms in a sibling `<module>_beam.py`, so that the
in-memory engines run without importing `apache_beam` (about 1.5 CPU-seconds
a process). Beam code imports the `_beam` sibling by name; a module on a
local path that builds a Beam graph imports it inside the function that does.
`tagged_output` lets the per-element functions both engines share yield
tagged outputs without importing Beam.
"""

import sys
from typing import Any, NamedTuple


class TaggedOutput(NamedTuple):
  """A tagged output of a per-element function run without Beam (as Beam's `.tag`, `.value`)."""
  tag: str
  value: Any


def tagged_output(tag: str, value: Any):
  """A per-element function's output to `tag`, for Beam or for an in-memory engine.

  The functions that both engines run (`neighbour_filter._choose`, ...) yield
  these: Beam's `TaggedOutput` when Beam is loaded (a DoFn is running), else
  the `TaggedOutput` above, which `examples.local.anchors.split_outputs` reads
  the same way. Beam is never imported for it.

  Args:
    tag: the output's tag.
    value: the value.

  Returns:
    An object with `.tag` and `.value`.
  """
  beam = sys.modules.get("apache_beam")
  if beam is not None:
    return beam.pvalue.TaggedOutput(tag, value)
  return TaggedOutput(tag, value)
