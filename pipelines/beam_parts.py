"""Beam transforms kept apart from the functions the in-memory engines share.

A module whose rules both engines apply (`io/features.py`, `io/rejected.py`,
...) keeps its Beam transforms in a sibling `<module>_beam.py`, so that the
in-memory engines run without importing `apache_beam` (about 1.5 CPU-seconds
a process). The module still offers those transforms under their old names:
`__getattr__ = beam_parts.lazy_attributes(__name__, NAMES)` imports the
sibling, and Beam with it, the first time one of them is asked for.
`tagged_output` lets the per-element functions both engines share yield
tagged outputs without importing Beam.
"""

import importlib
import sys
from collections.abc import Callable
from typing import Any, NamedTuple


def lazy_attributes(module: str, names: tuple) -> Callable[[str], object]:
  """A module `__getattr__` that takes `names` from the module's `_beam` sibling.

  Args:
    module: the module's `__name__`.
    names: the attributes defined in `<module>_beam`.

  Returns:
    The function to assign to the module's `__getattr__`.
  """
  def __getattr__(name: str):  # pylint: disable=invalid-name
    if name in names:
      return getattr(importlib.import_module(f"{module}_beam"), name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")
  return __getattr__


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
