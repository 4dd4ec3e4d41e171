"""`gcml validate --edges=GLOB --features=GLOB --output_dir=DIR [Beam options]`."""

import sys

from launch import logs
from pipelines.validate import stage as validate


def main(argv: list[str]) -> int:
  """`gcml validate`: the stage's `run` on the command line.

  Args:
    argv: the flags after `gcml validate`.

  Returns:
    The exit status (0; errors are raised and reported by `launch.main`).
  """
  logs.setup()
  validate.run(argv)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("validate", sys.argv[1:]))
