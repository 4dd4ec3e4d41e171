# Custom SDK container for Dataflow workers: Beam's Python 3.11 SDK image with
# gcml and its pinned dependencies pre-installed, so workers do not build and
# install the setup.py sdist at start-up. Build from the repository root:
#
#   .venv/bin/python -m pip wheel --no-deps -w dist .
#   docker build -f docker/dataflow.Dockerfile -t REGION-docker.pkg.dev/PROJECT/gcml/dataflow:0.1.0 .
#
# and run any pipeline subcommand with
#   --sdk_container_image=REGION-docker.pkg.dev/PROJECT/gcml/dataflow:0.1.0 --sdk_location=container
# (gcml then does not pass --setup_file). The Beam version of the image must be
# the one the job is submitted with (apache-beam==2.77.0 in constraints.txt).
FROM apache/beam_python3.11_sdk:2.77.0

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

COPY constraints.txt dist/gcml-0.1.0-py3-none-any.whl /tmp/gcml/
RUN pip install -c /tmp/gcml/constraints.txt "/tmp/gcml/gcml-0.1.0-py3-none-any.whl[gcp]" \
    && rm -rf /tmp/gcml

# The base image's ENTRYPOINT (/opt/apache/beam/boot) starts the SDK harness.
