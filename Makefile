# The two commands of the README:
#   make demo   install, create the SQLite database with demo data, serve on http://127.0.0.1:5000 (jobs inline)
#   make test   install the test dependencies (system packages too), check the layer order, run the whole test
#               suite in parallel (pytest-xdist)
# DATABASE_URL / REDIS_URL, when set, point the tests at PostgreSQL and Redis (that is what .ci/run does).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Three workers on two cores: the tests wait on PostgreSQL and Chromium about as much as they compute.
PYTEST_PARALLEL ?= -n 3 --dist worksteal
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test install install-test lint fmt bench-help

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

demo: install
	bash scripts/install-system-deps.sh --no-browser
	env -u DATABASE_URL -u REDIS_URL $(BIN)/fieldservice demo

test: install
	bash scripts/install-system-deps.sh
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_PARALLEL)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
