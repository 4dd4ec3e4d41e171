# The trainer image: `gcml train` from the wheel, every package pinned by
# constraints.txt. Build from the repository root (the context needs only
# constraints.txt and the wheel, see .dockerignore):
#
#   .venv/bin/python -m pip wheel --no-deps -w dist .
#   docker build -f docker/trainer.Dockerfile -t REGION-docker.pkg.dev/PROJECT/gcml/trainer:0.1.0 .
#
# `docker run IMAGE --mode=triplet --train_data=... --model_dir=...` runs
# `gcml train` with those flags; launch/vertex_ai/train_multi_worker.yaml uses
# it as a Vertex AI custom container. TensorFlow reads gs:// paths itself, so
# the GCP extra is not needed here.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

COPY constraints.txt dist/gcml-0.1.0-py3-none-any.whl /tmp/gcml/
RUN pip install -c /tmp/gcml/constraints.txt /tmp/gcml/gcml-0.1.0-py3-none-any.whl \
    && rm -rf /tmp/gcml

ENTRYPOINT ["gcml", "train"]
