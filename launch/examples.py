"""`gcml examples --kind=smart|random|labels --edges=GLOB --features=GLOB --clusters=DIR
--output_dir=DIR [--level=0] [--positives_per_anchor=5] [--num_triplets=N]
[--positive_sampling=weighted|uniform] [--max_per_cluster=50] [--min_cluster_size=2]
[--seed=0] [Beam options]`: training examples (see pipelines/examples/stage.py)."""

import sys

from launch import logs
from pipelines.examples import stage as make_examples


def main(argv: list[str]) -> int:
  """`gcml examples`: the stage's `run` on the command line.

  Args:
    argv: the flags after `gcml examples`.

  Returns:
    The exit status (0; errors are raised and reported by `launch.main`).
  """
  logs.setup()
  make_examples.run(argv)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("examples", sys.argv[1:]))
