# oscar-ordercancel developer tasks. `make sandbox` runs the demo shop; `make test` is what CI runs.

SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
STAMP := $(VENV)/.installed
EXTRAS := api,celery,xlsx,test
MANAGE := $(PYTHON) sandbox/manage.py
PYTEST_ARGS ?=
PORT ?= 8000
DIST ?= dist
# The sandbox database and its Celery broker's folder (sandbox/settings.py reads both).
SANDBOX_DB ?= $(CURDIR)/sandbox/db.sqlite3
SANDBOX_BROKER_DIR ?= $(CURDIR)/sandbox/broker
export SANDBOX_DB SANDBOX_BROKER_DIR
# Extra demo orders, and a CSV file that cancels them, to try CSV batches on.
BATCH_ORDERS ?= 300

.DEFAULT_GOAL := help
.PHONY: help venv sandbox sandbox-data test test-matrix bench lint docs wheel clean

help:
	@echo "make sandbox       fresh demo shop with sample orders at http://127.0.0.1:8000/ (PORT=8100 for another port),"
	@echo "                   served with a Celery worker beside it (SANDBOX_PROCESSORS=1: a cancel processor that logs)"
	@echo "make sandbox-data  the same database, without starting the server and the worker"
	@echo "make test          ruff, import layers, migration check and the test suite, with and without the forks"
	@echo "make test-matrix   the suite on every supported (Python, Oscar, Django) triple (noxfile.py),"
	@echo "                   one line per triple at the end (MATRIX=\"'tests(py3.12, oscar4.2, django6.0)'\" runs one: nox -l lists them)"
	@echo "make bench         benchmarks (bench/run.py)"
	@echo "make lint | docs | wheel | clean"

# -- environment -----------------------------------------------------------

venv: $(STAMP)

$(PYTHON):
	$(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --upgrade pip

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install -e ".[$(EXTRAS)]"
	touch $(STAMP)

# -- sandbox ---------------------------------------------------------------

sandbox-data: venv
	rm -f "$(SANDBOX_DB)"
	rm -rf "$(SANDBOX_BROKER_DIR)"
	$(MANAGE) migrate --noinput
	$(MANAGE) load_demo_data --port $(PORT) --batch-orders $(BATCH_ORDERS)

# runserver in the foreground, a Celery worker (with beat) in the background on a filesystem
# broker (no server to install); Ctrl-C stops both (sandbox/run.py).
sandbox: sandbox-data
	$(PYTHON) -m sandbox.run --port $(PORT)

# -- checks ----------------------------------------------------------------

# Everything runs even after a failure, so one run shows every problem; the
# target fails if any step failed. The suite runs with the package's forks
# (ORDERCANCEL_FORKS=1) and against plain Oscar apps (ORDERCANCEL_FORKS=0); the
# tests of simultaneous requests run once more on a file-based SQLite database, and
# the tests of the PostgreSQL-only paths (marked pg_paths in tests/conftest.py) once
# more with psycopg2 instead of psycopg 3. The tested installation guide builds shops of
# every configuration itself, so it runs in the first pass only. Last, a shop's fork of the
# core app that replaces a model (tests/ordercancel_fork, ORDERCANCEL_MODEL_FORK=1): its
# migrations checked, and tests/model_fork_tests.py, which only that pass runs.
test: venv
	@status=0; \
	echo "==> ruff check ."; \
	$(BIN)/ruff check . || status=1; \
	echo "==> lint-imports (the layers of ARCHITECTURE.md, no import circles)"; \
	$(BIN)/lint-imports || status=1; \
	for forks in 1 0; do \
		echo "==> makemigrations --check (ORDERCANCEL_FORKS=$$forks)"; \
		ORDERCANCEL_FORKS=$$forks $(MANAGE) makemigrations --check --dry-run || status=1; \
		echo "==> pytest (ORDERCANCEL_FORKS=$$forks)"; \
		ORDERCANCEL_FORKS=$$forks $(PYTHON) -m pytest $(PYTEST_ARGS) \
			$$([ $$forks = 0 ] && echo --deselect=tests/test_install_docs.py); rc=$$?; \
		if [ $$rc -ne 0 ]; then echo "pytest failed (exit $$rc, ORDERCANCEL_FORKS=$$forks)"; status=1; fi; \
	done; \
	echo "==> pytest -m shared_db (ORDERCANCEL_DB=sqlite-file: simultaneous cancels on SQLite)"; \
	ORDERCANCEL_DB=sqlite-file $(PYTHON) -m pytest -m shared_db $(PYTEST_ARGS) || status=1; \
	echo "==> pytest -m pg_paths (ORDERCANCEL_PG_DRIVER=psycopg2: the PostgreSQL-only paths on psycopg2)"; \
	ORDERCANCEL_PG_DRIVER=psycopg2 $(PYTHON) -m pytest -m pg_paths $(PYTEST_ARGS) || status=1; \
	echo "==> makemigrations --check (ORDERCANCEL_MODEL_FORK=1: a shop's fork of the core app)"; \
	ORDERCANCEL_MODEL_FORK=1 ORDERCANCEL_DB=sqlite $(PYTHON) -m django makemigrations --check --dry-run \
		--settings=tests.settings || status=1; \
	echo "==> pytest tests/model_fork_tests.py (ORDERCANCEL_MODEL_FORK=1: OrderCancellation replaced)"; \
	ORDERCANCEL_MODEL_FORK=1 $(PYTHON) -m pytest tests/model_fork_tests.py $(PYTEST_ARGS) || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; else echo "make test: all passed"; fi; \
	exit $$status

# Every session of noxfile.py (or those named in MATRIX, each quoted for the shell), each in
# its own virtualenv under .nox/; .ci/matrix_summary.py prints one line per triple from nox's
# JSON report. MATRIX_MARKERS / MATRIX_FORKS narrow what each runs (noxfile.py).
MATRIX ?=
test-matrix: venv
	@rm -f .nox/report.json; mkdir -p .nox; \
	$(BIN)/nox --no-color --report .nox/report.json $(if $(MATRIX),-s $(MATRIX),) \
		2>&1 | tee .nox/matrix.log; rc=$${PIPESTATUS[0]}; \
	$(PYTHON) .ci/matrix_summary.py .nox/report.json .nox/matrix.log; exit $$rc

bench: venv
	$(PYTHON) bench/run.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

docs: venv
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

wheel: venv
	$(PYTHON) -m build --wheel --outdir $(DIST)

clean:
	rm -rf $(DIST) build *.egg-info docs/_build .pytest_cache .ruff_cache
	rm -rf "$(SANDBOX_DB)" "$(SANDBOX_BROKER_DIR)" sandbox/static_root sandbox/media
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
