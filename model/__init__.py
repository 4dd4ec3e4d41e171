"""TensorFlow side of gcml: input, towers, losses and mining, trainer, metrics.

This is the one place that chooses the Keras flavour. tensorflow-recommenders
needs Keras 2 (the `tf-keras` package), and TensorFlow reads
`TF_USE_LEGACY_KERAS` once, when it is first imported, so every gcml package
imports this one before anything imports TensorFlow.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
