"""Distribution `gcml`: graph-clustered metric learning for item embeddings."""

import setuptools

setuptools.setup(
    name="gcml",
    version="0.1.0",
    description=(
        "Item (video) embeddings from a co-watch graph and content features: "
        "affinity clustering, smart triplets (GCML), CDML and cluster-label "
        "classification (CLC) with Apache Beam and TensorFlow."
    ),
    python_requires=">=3.11,<3.13",
    packages=setuptools.find_packages(include=["pipelines*", "model*", "launch*"]),
    install_requires=[
        "apache-beam>=2.77,<3",
        "tensorflow>=2.21,<2.22",
        "tf-keras>=2.21,<2.22",
        "tensorflow-recommenders>=0.7.7,<0.8",
        "numpy>=2.0",
        # Multithreaded CSV splitting for the in-memory engines (Beam pins <26 too).
        "pyarrow>=18,<26",
        "scipy>=1.13",
        "absl-py>=2.1",
        # CRC-32C for TFRecord framing (Beam's tfrecordio needs one of these).
        "google-crc32c>=1.5",
        # Plots next to the numbers (cluster sizes, training curves, reports).
        "matplotlib>=3.9",
        # Approximate top-K related items (gcml export --search=ivfpq).
        "faiss-cpu>=1.9,<1.16",
        # BLAS on one thread for the IVF-Flat search's small products (related_inverted.py).
        "threadpoolctl>=3.1",
    ],
    extras_require={
        # dev includes the GCP extra so that CI builds every Dataflow job graph offline
        # (--runner=DataflowRunner --dry_run=True), and pyflakes for tests/test_lint.py.
        "dev": ["pytest>=8", "pytest-xdist>=3.8", "scikit-learn>=1.5", "apache-beam[gcp]>=2.77,<3",
                "pyflakes>=3.2"],
        "gcp": ["apache-beam[gcp]>=2.77,<3"],
    },
    entry_points={"console_scripts": ["gcml=launch.main:main"]},
)
