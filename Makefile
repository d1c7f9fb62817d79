# One virtual environment for the whole repository (.venv), created from the lock file (uv.lock).
SHELL := /bin/bash
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help venv run test test-postgres lint clean-data

help:
	@echo "make run             set up and run the whole platform on its embedded defaults"
	@echo "make test            set up and run the whole test suite (SQLite)"
	@echo "make test-postgres   the same suite with every service on PostgreSQL (127.0.0.1:5432)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"

venv: $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --all-packages --python $(PYTHON)

run: venv
	$(PY) -m agency_platform.launcher

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

test-postgres: venv
	AGENCY_TEST_DATABASE=postgresql $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check libs services platform tests bench
	$(VENV)/bin/lint-imports

clean-data:
	rm -rf .data
