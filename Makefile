# The two commands the README promises: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint contracts pytest bench bench-paper bench-runtime bench-cluster clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/seifer up --local stacks/dev.pipeline.yaml --emulate-network=auto --demo

test: $(STAMP) lint contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check seifer_iac runtime tests

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: bench-paper bench-runtime bench-cluster

bench-paper: $(STAMP)
	$(BIN)/seifer bench paper

bench-runtime: $(STAMP)
	$(BIN)/seifer bench runtime

bench-cluster: $(STAMP)
	$(BIN)/seifer bench cluster

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
