# caredesk — `make run` for a local demo, `make test` for everything CI checks.
# The virtualenv (.venv) is made on first use with a Python >= 3.12 (scripts/find-python)
# and reinstalled only when pyproject.toml changes (stamp files inside .venv).

SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check --quiet

.PHONY: help run test lint bench clean

help:
	@echo "make run    start the web server and worker with demo data on http://127.0.0.1:8000"
	@echo "make test   ruff, migration check, the test suite on SQLite and on PostgreSQL"
	@echo "make lint   ruff check and ruff format --check only"
	@echo "make bench  run every bench/*.py script"
	@echo "make clean  remove the virtualenv, collected static files and caches (keeps var/ data)"

# The interpreter. Kept if it still runs and is new enough; otherwise (re)created.
$(VENV)/.python:
	@if ! $(BIN)/python -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
		python=$$(scripts/find-python) || exit 1; \
		echo "==> Creating $(VENV) with $$python"; \
		rm -rf $(VENV) && "$$python" -m venv $(VENV); \
	fi
	@touch $@

# Runtime dependencies only (make run).
$(VENV)/.installed: pyproject.toml | $(VENV)/.python
	@echo "==> Installing caredesk into $(VENV)"
	@$(PIP) install -e . >$(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@touch $@

# Runtime and test dependencies (make test, lint, bench); covers the runtime set too.
$(VENV)/.installed-test: pyproject.toml | $(VENV)/.python
	@echo "==> Installing caredesk[test] into $(VENV)"
	@$(PIP) install -e ".[test]" >$(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	@scripts/run.sh

test: $(VENV)/.installed-test
	@scripts/test.sh

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every bench/*.py script in turn (helpers live in bench/lib/; bench/_*.py are skipped too).
bench: $(VENV)/.installed-test
	@set -e; shopt -s nullglob; scripts=(); \
	for script in bench/*.py; do [[ $$(basename "$$script") == _* ]] || scripts+=("$$script"); done; \
	if [ $${#scripts[@]} -eq 0 ]; then echo "No bench/*.py scripts yet."; exit 0; fi; \
	for script in "$${scripts[@]}"; do \
		echo "==> $$script"; $(BIN)/python "$$script"; \
	done

clean:
	rm -rf $(VENV) var/static test-results build *.egg-info caredesk.egg-info .ruff_cache .pytest_cache
	find caredesk bench -name __pycache__ -type d -prune -exec rm -rf {} +
