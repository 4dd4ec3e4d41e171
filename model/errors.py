"""Configuration errors of the TensorFlow side, reported before any work starts."""


class ConfigError(ValueError):
  """A bad flag or configuration value, reported in one line by `gcml`."""
