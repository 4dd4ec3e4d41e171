"""The `gcml` command line: one console command with a subcommand per stage."""

import model  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
