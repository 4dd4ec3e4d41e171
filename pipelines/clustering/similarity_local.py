"""Placeholder."""


def similarity_weights(n, src, dst, similarity):
  raise NotImplementedError
