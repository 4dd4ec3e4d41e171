"""`gcml evaluate --embeddings=GLOB --edges=GLOB --features=GLOB --output_dir=DIR`."""

import sys

from launch import logs
from pipelines.evaluation import stage as evaluate


def main(argv: list[str]) -> int:
  """`gcml evaluate`: the stage's `run` on the command line.

  Args:
    argv: the flags after `gcml evaluate`.

  Returns:
    The exit status (0; errors are raised and reported by `launch.main`).
  """
  logs.setup()
  evaluate.run(argv)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("evaluate", sys.argv[1:]))
