# The two commands: `make run` and `make test`. Everything they need is here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
CATALOGS  := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

.PHONY: run test test-slow test-browser test-fuzz fuzz bench lint messages ci-setup clean help
.DEFAULT_GOAL := help

help:
	@echo "make run     start the portal (web + background workers) on http://127.0.0.1:$${PORTAL_PORT:-8000}/"
	@echo "make test    run the whole test suite"
	@echo "make test-slow  the slow fault and concurrency tests (real processes, a few minutes)"
	@echo "make test-browser  the browser flows (Playwright + Debian's Chromium, English and Korean); screenshots in var/screenshots/"
	@echo "make test-fuzz  schemathesis in every phase against a served portal, as admin and viewer (CI budget)"
	@echo "make fuzz    the same, longer: EXAMPLES=100 (per operation and phase), SEED=… to vary"
	@echo "make bench   run the benchmarks and print the table (BACKEND=postgres for PostgreSQL + Redis, SCALE=full)"
	@echo "make lint    ruff, import layers (lint-imports), migrations check, OpenAPI schema check"

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

# The suite runs in pytest-xdist workers, one a core (TEST_WORKERS=0 runs it in one process).
# Each worker has its own test database, data dir and Redis database (portal/settings.py).
TEST_WORKERS ?= 2
# The slow tests mostly wait on the processes they start (a quarter of a core each): more workers,
# which take the next test from each other's queues (worksteal: the tests last 15 s to 2.5 min).
SLOW_WORKERS ?= 4

# Off-site backups run Debian's restic; their SFTP tests start an sshd of their own (never the system's).
RESTIC := /usr/bin/restic
SSHD   := /usr/sbin/sshd

$(RESTIC) $(SSHD):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq restic openssh-server openssh-client

test: $(DEV_STAMP) messages | $(RESTIC) $(SSHD)
	PORTAL_DATA_DIR=$${PORTAL_DATA_DIR:-$(CURDIR)/var/test} $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-slow: $(DEV_STAMP) messages | $(RESTIC) $(SSHD)
	PORTAL_DATA_DIR=$${PORTAL_DATA_DIR:-$(CURDIR)/var/test-slow} $(BIN)/pytest -m slow -n $(SLOW_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Playwright drives the system's Chromium (never a downloaded browser build); the Korean
# flows need a Korean font, or their screenshots show empty boxes.
CHROMIUM    := /usr/bin/chromium
KOREAN_FONT := /usr/share/fonts/truetype/nanum/NanumGothic.ttf

$(CHROMIUM) $(KOREAN_FONT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum

test-browser: $(DEV_STAMP) messages | $(CHROMIUM) $(KOREAN_FONT)
	PORTAL_DATA_DIR=$${PORTAL_DATA_DIR:-$(CURDIR)/var/test-browser} $(BIN)/pytest -m browser $(PYTEST_ARGS)

test-fuzz: $(DEV_STAMP) messages
	PORTAL_DATA_DIR=$${PORTAL_DATA_DIR:-$(CURDIR)/var/test-fuzz} $(BIN)/pytest -m fuzz -o log_cli=true --log-cli-level=INFO $(PYTEST_ARGS)

fuzz: $(DEV_STAMP) messages
	PORTAL_FUZZ_EXAMPLES=$${EXAMPLES:-100} PORTAL_FUZZ_SEED=$${SEED:-20261202} $(BIN)/pytest -m fuzz -o log_cli=true --log-cli-level=INFO $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	PORTAL_DATA_DIR=$(CURDIR)/var/lint $(PY) manage.py makemigrations --check --dry-run
	PORTAL_DATA_DIR=$(CURDIR)/var/lint $(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: $(DEV_STAMP) messages | $(RESTIC)
	$(PY) bench/run.py --backend $${BACKEND:-sqlite} --scale $${SCALE:-small}

# What the legs of .ci/run share, made once before they start side by side (two apt-get or two
# catalogue builds at once would trip over each other).
ci-setup: $(DEV_STAMP) messages | $(RESTIC) $(SSHD) $(CHROMIUM) $(KOREAN_FONT)

clean:
	rm -rf $(VENV) var/test var/test-slow var/test-browser var/test-fuzz var/ci var/lint var/bench var/screenshots .pytest_cache .hypothesis
