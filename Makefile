# `make demo` and `make test` each do the whole set-up on a fresh clone: a virtual environment in
# .venv, the package and its dev extras installed under constraints.txt (the CPU build of torch).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.unleak-installed
TEST_STAMP := $(VENV)/.unleak-test-installed
# Some machines set PYTHONDONTWRITEBYTECODE; in the venv, cached bytecode halves start-up time.
export PYTHONDONTWRITEBYTECODE :=
# Creating a venv with its own pip (ensurepip) costs 3.5 s of the demo. Where this Python's pip can
# install into another interpreter (pip >= 22.3: --python), the venv is made without one.
ifeq ($(shell $(PYTHON) -m pip --help 2>/dev/null | grep -c -e '--python <python>'),1)
VENV_ARGS := --without-pip
PIP := $(PYTHON) -m pip --python $(BIN)/python
else
VENV_ARGS :=
PIP := $(BIN)/python -m pip
endif

.PHONY: demo test lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_ARGS) $(VENV)
	# --no-compile: modules compile on first import instead (only those used), not all at install
	$(PIP) install --quiet --no-compile -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The tests also exercise the Ray executor: the ray extra joins for them only.
$(TEST_STAMP): $(STAMP)
	$(PIP) install --quiet --no-compile -c constraints.txt -e '.[dev,ray]'
	touch $(TEST_STAMP)

demo: $(STAMP)
	$(BIN)/unleak audit --out runs/demo

# Two processes of one thread each (tests/conftest.py): on a 2-core runner the suite's small torch
# models run faster side by side than one at a time on two threads. --dist loadfile keeps a test
# file's fixtures in one worker.
test: $(TEST_STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
