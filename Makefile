# The two commands of the README: `make demo` and `make test`.
# Each creates (or reuses) the virtual environment in $(VENV) and installs gcml
# with the pinned versions of constraints.txt before it runs.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
OUTPUT_DIR ?= out/demo
PYTEST_ARGS ?=
# Test files run on this many processes (pytest-xdist), a file per process at a time, in
# collection order (--no-loadscope-reorder, xdist >= 3.8): tests/conftest.py puts the files
# with @pytest.mark.slow tests first, so no long file starts last.
TEST_WORKERS ?= 2
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(STAMP): setup.py constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gcml demo --output_dir=$(OUTPUT_DIR)

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 tests $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/gcml bench all

clean:
	rm -rf $(VENV) out *.egg-info
