# The two commands the README promises: `make demo` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
POLICY_STAMP := policy/venv/.installed

.PHONY: demo test lint contracts pytest bench bench-paper bench-runtime bench-cluster bench-backends docs-figures clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The pulumi-policy pack needs its own venv: pulumi-policy pins protobuf 5, TensorFlow needs 6.
$(POLICY_STAMP): policy/requirements.txt
	test -d policy/venv || $(PYTHON) -m venv policy/venv
	policy/venv/bin/python -m pip install --quiet --upgrade pip
	policy/venv/bin/python -m pip install --quiet -r policy/requirements.txt
	touch $(POLICY_STAMP)

demo: $(STAMP)
	$(BIN)/seifer up --local stacks/dev.pipeline.yaml --emulate-network=auto --demo

test: $(STAMP) lint contracts pytest

lint: $(STAMP)
	$(BIN)/ruff check seifer_iac runtime tests policy

contracts: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP) $(POLICY_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: bench-paper bench-runtime bench-cluster bench-backends

bench-paper: $(STAMP)
	$(BIN)/seifer bench paper

bench-runtime: $(STAMP)
	$(BIN)/seifer bench runtime

bench-cluster: $(STAMP)
	$(BIN)/seifer bench cluster

bench-backends: $(STAMP)
	$(BIN)/seifer bench backends --fit

# The figures tables of docs/deployment.md (objects, weights, Pulumi state per stack).
docs-figures: $(STAMP)
	$(BIN)/python -m seifer_iac.pulumi_program.figures --write docs/deployment.md

clean:
	rm -rf $(VENV) policy/venv build *.egg-info .pytest_cache .ruff_cache
