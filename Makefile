# `make demo` and `make test` each set up the virtual environment they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint setup setup-dev system-packages tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: setup system-packages
	$(BIN)/kargo-dagster demo

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pyright

system-packages:
	scripts/install-system-packages

# kubectl (kustomize v5) and helm for the kustomize-build and helm-template steps.
tools: system-packages
	scripts/install-tools

# Three workers: most tests wait on daemons and servers. Tests that start the demo's services
# on their fixed ports take turns (the demo_ports fixture). Work stealing: the slow tests
# (daemons, races, scale) otherwise pile up on one worker while the others sit idle.
test: system-packages tools lint
	$(BIN)/python -m pytest -n 3 --dist worksteal
