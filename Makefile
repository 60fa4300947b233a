# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install native lock test unit lint typecheck demo demo-offline bench schemas dashboards settings-doc indicator-doc clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/'

# Reproducible installs: every package pinned with its hashes (requirements-dev.lock, made from
# pyproject.toml by `make lock`); pip refuses anything whose hash differs. The project itself
# goes in on top, without touching those pins.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

# The compiled core (events/native.py): the hot modules built with mypyc into .native/, rebuilt
# whenever a source of events/ or streams/core/ changes. A failed build is not an error: the core
# then runs as pure Python (the message says so). At import, the compiled modules are used only
# when .native/manifest.json records the digest of the current sources, so an edited file is never
# shadowed by a stale build, even without make.
NATIVE_STAMP := $(VENV)/.native-built
CORE_SOURCES := $(wildcard events/*.py streams/core/*.py)

$(NATIVE_STAMP): $(STAMP) $(CORE_SOURCES)
	CONTACTMON_PURE_PYTHON=1 $(BIN)/python -m streams.native_build || true
	touch $(NATIVE_STAMP)

install: $(STAMP) $(NATIVE_STAMP)  ## create .venv, install the project with its dev tools (hash-checked), compile the core

native:  ## rebuild the compiled core now (also after a failed build)
	rm -f $(NATIVE_STAMP)
	$(MAKE) $(NATIVE_STAMP)

lock: $(STAMP)  ## regenerate requirements.lock and requirements-dev.lock from pyproject.toml
	$(BIN)/pip install -q pip-tools==7.6.2
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --no-emit-find-links --strip-extras \
		-o requirements.lock pyproject.toml
	$(BIN)/pip-compile -q --generate-hashes --allow-unsafe --no-emit-find-links --strip-extras \
		--extra dev -o requirements-dev.lock pyproject.toml

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check events sources streams tests bench
	$(BIN)/ruff format --check events sources streams tests bench

typecheck: $(STAMP)  ## mypy --strict
	$(BIN)/mypy

# pytest-xdist worker processes for `make test`. The machines have 2 cores, but the integration
# tests mostly wait on brokers, servers and clocks: 3 workers measured faster than 2 or 4.
# Each worker starts its own broker, PostgreSQL and Prometheus on ports of its own.
TEST_WORKERS ?= 3

unit: install  ## the fast unit tests only
	$(BIN)/pytest -q tests/unit

test: install  ## everything: lint, types, unit and integration tests (in parallel)
	$(MAKE) lint typecheck
	$(BIN)/pytest -q -n $(TEST_WORKERS) tests

dashboards: $(STAMP)  ## regenerate grafana/dashboards/*.json and the Kubernetes copies
	$(BIN)/python -m streams.dashboards.build

settings-doc: $(STAMP)  ## regenerate the worker's settings table in README.md from streams/live/settings.py
	$(BIN)/python -m streams.live.settings_doc README.md

indicator-doc: $(STAMP)  ## regenerate docs/indicatoren.md from the KPI catalogue (streams/export/kpi.py)
	$(BIN)/python -m streams.export.indicator_doc docs/indicatoren.md

schemas: $(STAMP)  ## regenerate events/schemas/*.json from the pydantic models
	$(BIN)/python -m events.schema

demo: $(STAMP)  ## the live demo: Kafka broker, worker, simulator; Ctrl-C stops it
	bash deploy/demo.sh

demo-offline: $(STAMP)  ## simulate, replay and export without Kafka
	bash deploy/demo-offline.sh

bench: install  ## benchmarks (core, then the live worker on a real broker); figures go into BENCHMARKS.md
	$(BIN)/python -m bench.core_bench --events 1000000 --write BENCHMARKS.md
	$(BIN)/python -m bench.live_bench --events 100000 --write BENCHMARKS.md
	$(BIN)/python -m bench.report_bench --repeat 5 --write BENCHMARKS.md
	$(BIN)/python -m bench.overview_bench --rate 200 --clients 50 --seconds 60 --write BENCHMARKS.md
	$(BIN)/python -m bench.ingest_bench --seconds 20 --concurrency 16 --write BENCHMARKS.md
	$(BIN)/python -m bench.import_bench --rows 200000 --repeat 3 --write BENCHMARKS.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info .native .native.tmp
