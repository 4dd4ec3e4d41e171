"""`gcml export --model_dir=DIR --features=GLOB --output_dir=DIR [--top_k=60] [Beam options]`."""

import sys

from launch import logs
from pipelines.export import stage as export


def main(argv: list[str]) -> int:
  """`gcml export`: the stage's `run` on the command line.

  Args:
    argv: the flags after `gcml export`.

  Returns:
    The exit status (0; errors are raised and reported by `launch.main`).
  """
  logs.setup()
  export.run(argv)
  return 0


if __name__ == "__main__":
  from launch.main import run_subcommand
  sys.exit(run_subcommand("export", sys.argv[1:]))
