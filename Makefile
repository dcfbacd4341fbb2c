# Atelier: `make run` starts everything on one machine, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := run
VENV := .venv
BIN := $(VENV)/bin
export PORT ?= 8000

# The first Python >= 3.12: on PATH first, then pyenv's versions.
PYTHON ?= $(shell \
  for p in python3.14 python3.13 python3.12 python3 python; do \
    c=$$(command -v $$p 2>/dev/null) && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$c; exit 0; }; \
  done; \
  root=$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv); \
  for c in $$(ls -d $$root/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
    $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$c; exit 0; }; \
  done)

.PHONY: run test lint format bench browser clean

$(BIN)/.installed: requirements-dev.lock
	@test -n "$(PYTHON)" || { echo "Atelier needs Python 3.12 or newer; none was found on PATH or in pyenv." >&2; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	@touch $@

var:
	@mkdir -p var/media

# On one machine the built-in sandbox provider is on; a deployment leaves it off (README).
run: export SANDBOX_ENABLED ?= 1
run: $(BIN)/.installed var
	$(BIN)/python manage.py migrate --noinput
	@$(BIN)/python manage.py ensure_admin
	@$(BIN)/python manage.py serve

# Browser tests drive Debian's Chromium; install it when we may (root), never a downloaded build.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then echo "Installing Chromium from Debian's packages"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "Browser tests need Chromium: sudo apt-get install chromium" >&2; exit 1; fi; }

test: $(BIN)/.installed var browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy webapp gallery jobs

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.installed var
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) var
