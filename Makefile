# soc2hub developer entry points. `make run` and `make test` are all a new machine needs.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PIP := $(PY) -m pip --disable-pip-version-check
VAR_DIR ?= $(or $(SOC2HUB_VAR_DIR),var)
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# One test process per core (pytest-xdist; each gets its own test database).
PYTEST_WORKERS ?= auto

# Every target here runs soc2hub as a local server on loopback over plain HTTP (settings.py:
# LOCAL): a generated secret key under var/, no HTTPS-only settings. DEBUG stays off unless
# you set DEBUG=true. Production sets SECRET_KEY instead (docker-compose.yml).
SOC2HUB_LOCAL ?= true

export VENV HOST PORT SOC2HUB_LOCAL

.PHONY: help run test lint install install-test lock migrate seed worker dirs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# --- virtualenv --------------------------------------------------------------------
# Debian's python3 ships venv without ensurepip; a half-made venv is removed so the
# next attempt starts clean.
$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "soc2hub needs Python 3.11 or newer (found: $$($(PYTHON) --version 2>&1))" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
		rm -rf $(VENV); \
		echo "Could not create $(VENV). On Debian/Ubuntu: apt-get install python3-venv" >&2; \
		exit 1; }

# Dependencies come from the lock (requirements/*.txt, exact versions with hashes, made by
# `make lock`), then soc2hub itself without dependencies. Reinstall when the lock or
# pyproject.toml changes. The test lock is a superset, so its stamp also refreshes the runtime one.
LOCK_BASE := requirements/base.txt
LOCK_TEST := requirements/test.txt

$(VENV)/.installed: $(LOCK_BASE) pyproject.toml | $(PY)
	$(PIP) install --quiet --require-hashes -r $(LOCK_BASE)
	$(PIP) install --quiet --no-deps -e .
	@touch $@

$(VENV)/.installed-test: $(LOCK_TEST) $(LOCK_BASE) pyproject.toml | $(PY)
	$(PIP) install --quiet --require-hashes -r $(LOCK_TEST)
	$(PIP) install --quiet --no-deps -e .
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed ## create .venv and install soc2hub
install-test: $(VENV)/.installed-test ## create .venv and install soc2hub with its test tools

# --- the lock ----------------------------------------------------------------------
# requirements/base.txt (runtime) and requirements/test.txt (runtime + the test extra, its
# runtime versions held to base.txt's), resolved from pyproject.toml by uv for Python 3.11
# on any platform (markers kept), with hashes. Existing pins are kept; UPGRADE=<package>
# (several: UPGRADE="django celery") moves only those, UPGRADE=all moves everything.
UV_VERSION := 0.13.9
UPGRADE ?=
LOCK_FLAGS = --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' \
	$(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))

$(BIN)/uv: | $(PY)
	$(PIP) install --quiet uv==$(UV_VERSION)

lock: | $(BIN)/uv ## regenerate requirements/*.txt from pyproject.toml (UPGRADE=<package> or UPGRADE=all to move pins)
	@mkdir -p requirements
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o $(LOCK_BASE)
	$(BIN)/uv pip compile pyproject.toml --extra test -c $(LOCK_BASE) $(LOCK_FLAGS) -o $(LOCK_TEST)

dirs:
	@mkdir -p $(VAR_DIR)/celery/queue $(VAR_DIR)/celery/processed $(VAR_DIR)/celery/control $(VAR_DIR)/media

# --- running -----------------------------------------------------------------------
migrate: install dirs ## apply database migrations
	$(PY) manage.py migrate --noinput

seed: migrate ## load the SOC 2 catalog and the demo organisation (idempotent)
	$(PY) manage.py load_soc2_catalog
	$(PY) manage.py seed_demo

run: seed ## serve on http://127.0.0.1:8000 with a Celery worker and embedded beat
	@bin/run-embedded

worker: install dirs ## run only the Celery worker with embedded beat, in the foreground
	$(BIN)/celery -A soc2hub worker -B --pool=solo --loglevel=INFO

# --- testing -----------------------------------------------------------------------
test: install-test ## run the test suite (pass options with PYTEST_ARGS="-k ownership -x"; PYTEST_WORKERS=0 for one process)
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

lint: install-test ## check the code for errors (ruff: syntax, undefined names, unused imports)
	$(BIN)/ruff check .

clean: ## remove the virtualenv and all local data under var/
	rm -rf .venv var staticfiles .pytest_cache test-artifacts *.egg-info

# --- benchmark ---------------------------------------------------------------------
# An enterprise-sized organisation in its own database (never the dev one), then the daily
# job's and the busiest pages' timings. BENCH_DATABASE_URL=postgres://.../soc2hub_bench for PostgreSQL.
BENCH_DATABASE_URL ?= sqlite:///$(CURDIR)/var/bench/soc2hub_bench.sqlite3
.PHONY: bench
bench: install ## generate the benchmark organisation and measure the daily job and pages (bench/README.md)
	$(PY) bench/generate.py --database-url '$(BENCH_DATABASE_URL)'
	$(PY) bench/run.py --database-url '$(BENCH_DATABASE_URL)'

# Non-human identities at 100,000 in their own benchmark database: the inventory's pages, a
# 100,000-row CSV import and the daily job. BENCH_NHI_DATABASE_URL=postgres://.../soc2hub_nhi_bench for PostgreSQL.
BENCH_NHI_DATABASE_URL ?= sqlite:///$(CURDIR)/var/bench/soc2hub_nhi_bench.sqlite3
.PHONY: bench-nhi
bench-nhi: install ## generate 100,000 non-human identities and measure the inventory, an import and the daily job
	$(PY) bench/nhi_generate.py --database-url '$(BENCH_NHI_DATABASE_URL)'
	$(PY) bench/nhi_run.py --database-url '$(BENCH_NHI_DATABASE_URL)'

# An audit's reports at enterprise size (400 controls, 5,000 approved evidence files written to a
# temporary MEDIA_ROOT): the evidence index PDF and the evidence package, timed, with peak memory.
# Builds its own database. BENCH_AUDIT_DATABASE_URL=postgres://.../soc2hub_audit_bench for PostgreSQL.
BENCH_AUDIT_DATABASE_URL ?= sqlite:///$(CURDIR)/var/bench/soc2hub_audit_bench.sqlite3
.PHONY: bench-audit
bench-audit: install ## time the evidence index PDF and the evidence package of an audit with 5,000 evidence files
	$(PY) bench/audit_run.py --database-url '$(BENCH_AUDIT_DATABASE_URL)'

# Fifty signed-in people at once against gunicorn + a Celery worker on PostgreSQL and Redis, then
# an integrity check of every acknowledged write (bench/load.py). Needs both servers.
BENCH_LOAD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/soc2hub_load_bench
BENCH_LOAD_REDIS_URL ?= redis://127.0.0.1:6379/9
.PHONY: bench-load
bench-load: install ## 50 concurrent clients for 60 s (uploads, approvals, rotations, pages), then an integrity check
	$(PY) bench/load.py --database-url '$(BENCH_LOAD_DATABASE_URL)' --redis-url '$(BENCH_LOAD_REDIS_URL)'
