"""`gcml cluster --edges=GLOB --output_dir=DIR [--levels=3] [--linkage=max|average|sum]
[--min_weight=0] [--max_cluster_size=0] [--seed=0] [--engine=beam|local] [--test_fraction=0.3]
[--cluster_all_edges] [--similarity=weight|jaccard|adamic_adar] [--first_round=1]
[--target_l0_size=0] [--max_first_round=8] [Beam options]`."""

import sys

from launch import logs
from pipelines.clustering import stage as cluster


def main(argv: list[str]) -> int:
  """`gcml cluster`: the stage's `run` on the command line.

  Args:
    argv: the flags after `gcml cluster`.

  Returns:
    The exit status (0; errors are raised and reported by `launch.main`).
  """
  logs.setup()
  cluster.run(argv)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("cluster", sys.argv[1:]))
