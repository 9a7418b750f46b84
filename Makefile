# The two commands: `make run` and `make test`. Everything they need is here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
CATALOGS  := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

.PHONY: run test bench lint messages clean help
.DEFAULT_GOAL := help

help:
	@echo "make run     start the portal (web + background workers) on http://127.0.0.1:$${PORTAL_PORT:-8000}/"
	@echo "make test    run the whole test suite"
	@echo "make bench   run the benchmarks and print the table (BACKEND=postgres for PostgreSQL + Redis)"
	@echo "make lint    ruff, migrations check, OpenAPI schema check"

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): requirements.txt | $(PY)
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(RUN_STAMP)

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po $(RUN_STAMP)
	$(BIN)/pybabel --quiet compile --domain django --input-file $< --output-file $@

messages: $(CATALOGS)

run: $(RUN_STAMP) messages
	$(PY) manage.py serve

test: $(DEV_STAMP) messages
	PORTAL_DATA_DIR=$${PORTAL_DATA_DIR:-$(CURDIR)/var/test} $(BIN)/pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	PORTAL_DATA_DIR=$(CURDIR)/var/lint $(PY) manage.py makemigrations --check --dry-run
	PORTAL_DATA_DIR=$(CURDIR)/var/lint $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: $(DEV_STAMP) messages
	$(PY) bench/run.py --backend $${BACKEND:-sqlite}

clean:
	rm -rf $(VENV) var/test var/lint var/bench .pytest_cache
