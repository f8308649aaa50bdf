# Two commands on a fresh machine: `make demo` then `make test`. The first call builds .venv
# (uv when it is on the machine, plain pip otherwise) from the pinned requirements.lock.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: install lake-env demo demo-ui dev dev-env dashboard test test-fast lint bench bench-banten bench-national clean

$(STAMP): pyproject.toml requirements.lock
	@if [ ! -x $(BIN)/python ]; then \
	  if command -v uv >/dev/null 2>&1; then uv venv --python $(PYTHON) $(VENV); else $(PYTHON) -m venv $(VENV); fi; \
	fi
	@if command -v uv >/dev/null 2>&1; then \
	  uv pip install --python $(BIN)/python -r requirements.lock && uv pip install --python $(BIN)/python --no-deps -e .; \
	else \
	  $(BIN)/python -m pip install --quiet --upgrade pip && \
	  $(BIN)/python -m pip install --quiet -r requirements.lock && \
	  $(BIN)/python -m pip install --quiet --no-deps -e .; \
	fi
	@mkdir -p $(DAGSTER_HOME) && cp -n dagster.yaml $(DAGSTER_HOME)/dagster.yaml 2>/dev/null || true
	@touch $(STAMP)

# The native HMAC (pipelines/parsing/native): pseudonyms ~5x faster. Needs only a C compiler; without
# one the build says so and the same tokens are hashed in Python.
NATIVE := pipelines/parsing/native/_hmac_column.so
$(NATIVE): pipelines/parsing/native/hmac_column.c pipelines/parsing/native/xlsx_grid.c | $(STAMP)
	@$(BIN)/python -m pipelines.parsing.native

install: $(STAMP) $(NATIVE)

# The DuckLake publisher's own interpreter (requirements-lake.lock: DuckDB 1.5.5 and the ducklake and
# postgres extension wheels). Only a lake needs it (KONVERGENSI_LAKE_PYTHON=.venv-lake/bin/python);
# the lake test uses it. docs/deploy.md, "The warehouse beyond one file".
LAKE_VENV := .venv-lake
LAKE_STAMP := $(LAKE_VENV)/.installed-stamp
$(LAKE_STAMP): requirements-lake.lock
	@if [ ! -x $(LAKE_VENV)/bin/python ]; then \
	  if command -v uv >/dev/null 2>&1; then uv venv --python $(PYTHON) $(LAKE_VENV); else $(PYTHON) -m venv $(LAKE_VENV); fi; \
	fi
	@if command -v uv >/dev/null 2>&1; then uv pip install --python $(LAKE_VENV)/bin/python -r requirements-lake.lock; \
	else $(LAKE_VENV)/bin/python -m pip install --quiet -r requirements-lake.lock; fi
	@touch $(LAKE_STAMP)

lake-env: $(LAKE_STAMP)

demo: $(STAMP) $(NATIVE)
	$(BIN)/konvergensi demo

# Reads .env from here, as `konvergensi` does (pipelines/envfile.py); `make dev-env` writes one.
dev: $(STAMP) $(NATIVE)
	$(BIN)/dagster dev -w workspace.yaml

# A local .env from .env.example: a fresh pseudonym key and a landing/ folder (never overwrites .env).
dev-env: $(STAMP)
	$(BIN)/python -m pipelines.envfile $(CURDIR)

# The Dagster UI on the demo's own instance and warehouse (after `make demo`).
demo-ui: $(STAMP)
	DAGSTER_HOME=$(CURDIR)/demo_data/dagster_home KONVERGENSI_WAREHOUSE=$(CURDIR)/demo_data/warehouse/banten.duckdb \
	  $(BIN)/dagster dev -w workspace.yaml

# The Evidence dashboard (dashboards/build/, static pages) from the demo's published file (`make demo`
# first), or another: `make dashboard DASHBOARD_WAREHOUSE=/srv/konvergensi/warehouse/banten.duckdb`.
# Needs Node 18.13+ and npm (the registry is the only network it uses). docs/bi.md, dashboards/README.md.
DASHBOARD_WAREHOUSE ?= demo_data/warehouse/banten.duckdb
dashboard:
	bash dashboards/build.sh $(DASHBOARD_WAREHOUSE)

test: $(STAMP) $(NATIVE) $(LAKE_STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP) $(NATIVE)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check pipelines tests benchmarks

# Generated submissions are kept here and reused (Banten 0.5 GB, national 12 GB).
BENCH_DATA ?= /tmp/konvergensi-bench

bench: bench-banten bench-national

bench-banten: $(STAMP) $(NATIVE)
	$(BIN)/python benchmarks/bench_zscores.py --sizes 1000000 10000000
	$(BIN)/python -W ignore benchmarks/bench_pipeline.py --scale banten --data $(BENCH_DATA)/banten

bench-national: $(STAMP) $(NATIVE)
	$(BIN)/python -W ignore benchmarks/bench_pipeline.py --scale national --data $(BENCH_DATA)/national

clean:
	rm -rf demo_data warehouse/work warehouse/*.duckdb .dagster_home dashboards/build dashboards/.evidence/template dashboards/.evidence/meta dashboards/.evidence/snapshot
