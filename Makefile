# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000

.PHONY: install run serve test migrate load demo-users bench bench-api load-test clean fuzz

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@# (Re)make the venv unless it has a pip: a venv made while python3-venv was missing has none.
	@if ! $(PY) -m pip --version >/dev/null 2>&1; then \
	  test -n "$(PYTHON)" && $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
	    || { echo "CMO KB needs Python 3.11: put python3.11 (or a python3 that is 3.11) on PATH, or run make PYTHON=/path/to/python3.11" >&2; exit 1; }; \
	  echo "$(PYTHON) -m venv $(VENV)"; \
	  rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); exit 1; }; \
	fi
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

migrate: install
	$(PY) manage.py migrate --noinput

load: migrate
	$(PY) manage.py load_ctg

demo-users: migrate
	$(PY) manage.py create_demo_users

# Imports run in the background (evidence/import_runs.py): the tasks worker (manage.py db_worker, the
# queue is a table of the same database) runs next to the server and stops with it.
run: install migrate load demo-users
	$(PY) manage.py db_worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	  $(PY) manage.py runserver $(HOST)

# Production: gunicorn with a few workers, DEBUG off, static files collected (WhiteNoise serves the
# hashed, compressed copies). Needs SECRET_KEY and ALLOWED_HOSTS; see README "Running in production".
serve: export DEBUG = 0
serve: install
	@test -n "$$SECRET_KEY" || { echo 'make serve: SECRET_KEY is not set. Generate one with' >&2; \
	  echo "  $(PY) -c 'import secrets; print(secrets.token_urlsafe(50))'" >&2; \
	  echo 'and export it (keep it secret and the same across restarts). See README "Running in production".' >&2; exit 1; }
	@test -n "$$ALLOWED_HOSTS" || { echo 'make serve: ALLOWED_HOSTS is not set: give the host names clients use, e.g. ALLOWED_HOSTS=kb.example.org (comma-separated).' >&2; exit 1; }
	$(PY) manage.py check
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	@# gunicorn and the imports' tasks worker (manage.py db_worker) side by side; a signal to make (or
	@# either one ending) stops both.
	$(PY) manage.py db_worker & worker=$$!; \
	  HOST=$(HOST) $(VENV)/bin/gunicorn --config gunicorn.conf.py cmo_kb.wsgi & web=$$!; \
	  trap 'kill $$web $$worker 2>/dev/null; wait' EXIT INT TERM; \
	  while kill -0 $$web 2>/dev/null && kill -0 $$worker 2>/dev/null; do sleep 1; done

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) staticfiles test-artifacts .pytest_cache

# Issue 10's table at scale: each figure against a floor measured in the same run (benchmarks/bench.py;
# README "Benchmarks at scale"), e.g. BENCH_ARGS="--excerpts 1000000 --configurations 100000 --json out.json".
bench: install
	$(PY) benchmarks/bench.py $(BENCH_ARGS)

# The small-scale checks on a throw-away test database (cursor depth, page sizes, GIN vs seq scan).
bench-api: install
	$(PY) benchmarks/bench_api.py $(BENCH_API_ARGS)

# 20 clients for LOAD_SECONDS against a running `make serve` (benchmarks/load.py; LOAD_ARGS for more).
load-test: install
	$(PY) benchmarks/load.py --url http://$(HOST) $(LOAD_ARGS)

# schemathesis against a scratch PostgreSQL copy of the corpus (FUZZ_DATABASE, default cmo_kb_fuzz):
# anonymous, analyst and evaluator, every check, a fixed seed; fails on any failure (.ci/fuzz).
$(VENV)/.installed-fuzz: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,fuzz]'
	touch $@

fuzz: $(VENV)/.installed-fuzz
	bash .ci/fuzz
