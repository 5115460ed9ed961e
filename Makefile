# The words a newcomer would guess: run, test, lint, bench, translations.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export FLASK_APP := wsgi:app

.PHONY: run test lint format typecheck bench translations compile-translations install \
        system-deps system-deps-run services e2e-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed compile-translations

compile-translations: $(VENV)/.installed
	$(BIN)/pybabel compile -d translations --statistics 2>&1 | grep -v '^compiling' || true

translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location --sort-output \
	    --omit-header -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --ignore-obsolete -w 100
	$(BIN)/pybabel compile -d translations --statistics

## run: the whole portal with demo data, on PostgreSQL/Redis/MQTT of this machine when they
## answer, else on embedded ones started from Python packages (data under instance/);
## as root it first installs the Debian packages the portal needs (WeasyPrint's)
run: system-deps-run install
	bin/run

## test: everything CI runs: system packages, services, lint, the whole suite with browsers
test: system-deps services install e2e-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck

typecheck: $(VENV)/.installed
	$(BIN)/mypy portal/models portal/services workers telemetry charging scoring

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

system-deps:
	bin/system-deps

system-deps-run:
	@bin/system-deps run

services:
	bin/services

e2e-deps: package-lock.json
	@[ -f node_modules/axe-core/axe.min.js ] && [ -d node_modules/ocpp-rpc ] || npm ci --no-audit --no-fund --silent

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache .ruff_cache .mypy_cache
