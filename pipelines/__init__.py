"""Apache Beam pipelines of gcml: readers and validation, clustering, examples, export."""

import model  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow is imported)
