# `make demo` and `make test` each do the whole set-up on a fresh clone: a virtual environment in
# .venv, the package (for tests, with its dev and ray extras) installed under constraints.txt (the
# CPU build of torch).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.unleak-installed
TEST_STAMP := $(VENV)/.unleak-test-installed
# Some machines set PYTHONDONTWRITEBYTECODE; in the venv, cached bytecode halves start-up time.
export PYTHONDONTWRITEBYTECODE :=
.PHONY: demo test lint bench install clean

install: $(STAMP)

# tools/install.py: uv where it can be had (~9 s into a fresh venv), else pip (~50 s); modules
# compile on first import (only those used), not all at install. The demo needs no extra.
$(STAMP): pyproject.toml constraints.txt tools/install.py
	$(PYTHON) tools/install.py $(VENV) ""
	touch $(STAMP)

# Lint and tests: the dev tools, and the ray extra (the tests also exercise the Ray executor).
$(TEST_STAMP): $(STAMP)
	$(PYTHON) tools/install.py $(VENV) dev,ray
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/unleak audit --config examples/demo.yaml --out runs/demo

# Two processes of one thread each (tests/conftest.py): on a 2-core runner the suite's small torch
# models run faster side by side than one at a time on two threads. --dist loadfile keeps a test
# file's fixtures in one worker.
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
