# The words a newcomer would guess: run, test, lint, bench, translations.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export FLASK_APP := wsgi:app
# run, test and bench are development: the only setting with default secrets and demo mode.
export LAFA_ENV ?= development

.PHONY: run test lint format typecheck bench translations compile-translations install \
        system-deps system-deps-run services e2e-deps clean lock audit

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every dependency comes from requirements.lock, pinned with its hashes (pip refuses a
# file whose hash differs); the portal itself is installed on top without resolving.
LOCK := requirements.lock
$(VENV)/.installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e '.[dev]'
	@$(BIN)/pip check >/dev/null || { $(BIN)/pip check; \
	    echo "$(LOCK) lacks what pyproject.toml asks for: run make lock" >&2; exit 1; }
	touch $@

## lock: requirements.lock from pyproject.toml (keeps current pins; LOCK_FLAGS=--upgrade
## moves them all), for Python 3.11 on Linux x86_64 as CI and production run it
lock: | $(BIN)/python
	@[ -x $(BIN)/uv ] || $(BIN)/pip install --quiet 'uv>=0.9,<0.14'
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --quiet \
	    --python-version 3.11 --python-platform x86_64-manylinux_2_28 $(LOCK_FLAGS) -o $(LOCK)

## audit: known vulnerabilities in requirements.lock (skipped, and said so, offline)
audit: $(VENV)/.installed
	$(BIN)/python bin/audit $(LOCK)

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
	$(MAKE) --no-print-directory audit
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
