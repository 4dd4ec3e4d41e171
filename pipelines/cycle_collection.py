"""Python's cyclic garbage collector paused around work that makes no reference cycles.

CPython collects cycles when allocations outnumber deallocations by a
threshold, and each collection walks every container object of the
generations it collects. Imports (numpy, pyarrow, the pipelines' modules) and
the in-memory engines' runs allocate hundreds of thousands of long-lived
containers and no cycles to speak of: the collections their allocations
trigger find nothing and cost about 5 % of a small run's CPU each
(`launch.main` pauses collection while it imports a subcommand,
`examples.local.engine` while it runs). Reference counting frees everything
as usual while collection is paused.
"""

import contextlib
import gc


@contextlib.contextmanager
def paused():
  """The cyclic garbage collector off inside the block, back on after if it was on.

  Yields:
    None.
  """
  enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if enabled:
      gc.enable()
