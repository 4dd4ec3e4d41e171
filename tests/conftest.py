"""Shared pytest setup: load gcml's TensorFlow settings before any test imports TF."""

import model  # noqa: F401
