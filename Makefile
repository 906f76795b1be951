# paytrace-sl: the two quick-start commands are `make demo` and `make test`.
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help env lint typecheck test test-fast demo airflow sandbox bench clean

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

env: ## Create .venv from uv.lock (installs unixODBC via apt-get when run as root)
	@scripts/bootstrap.sh

lint: env ## ruff + mypy
	$(VENV)/bin/ruff check include plugins dags tests bench packages
	$(VENV)/bin/ruff format --check include plugins dags tests bench packages
	$(VENV)/bin/mypy

# Two pytest-xdist workers, whole test files per worker (tests/conftest.py); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2

test: env lint ## The whole test suite (unit + integration against real PostgreSQL, HTTP and Airflow)
	@$(VENV)/bin/pytest -q -n $(TEST_WORKERS) --durations=25; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

test-fast: env ## Unit tests only
	$(VENV)/bin/pytest -q tests/unit

demo: env ## Run the whole pipeline through Airflow on the embedded PayTrace sandbox and a SQLite SL sandbox
	$(PY) -m paytrace_sl_sandbox.demo

airflow: env ## Airflow standalone with the DAGs unpaused and connections pointing at the sandboxes
	scripts/airflow-standalone.sh

sandbox: env ## Serve the PayTrace sandbox on 127.0.0.1:8765
	$(VENV)/bin/paytrace-sl sandbox serve --host 127.0.0.1 --port 8765

# Small default sizes so the whole set runs in ~10 min on 2 cores; each script's --help gives the full sizes
# (docs/performance.md). BENCH_ARGS_<name> overrides one script's arguments.
BENCH_ARGS_sl_load ?= --count 20000
BENCH_ARGS_pipeline ?= --sizes 10000
BENCH_ARGS_preflight ?= --history 40 --step 20
BENCH_ARGS_matching ?= --sl 2000 --seeds 1
BENCH_ARGS_airflow ?= --executors local --only hourly --hourly-tx 2000
BENCH_ARGS_extract ?= --size 10000 --rounds 2
BENCH_ARGS_validate ?= --sizes 10000 --repeat 2
BENCH_ARGS_transform ?= --sizes 10000
BENCH_ARGS_writer_cpu ?= --payments 5000 --repeat 3

bench: env ## All benchmarks at small sizes (not part of the test suite): SL load, pipeline, extract, validate, transform, writer CPU, preflight, matching, Airflow
	$(PY) bench/bench_sl_load.py $(BENCH_ARGS_sl_load)
	$(PY) bench/bench_pipeline.py $(BENCH_ARGS_pipeline)
	$(PY) bench/bench_extract.py $(BENCH_ARGS_extract)
	$(PY) bench/bench_validate.py $(BENCH_ARGS_validate)
	$(PY) bench/bench_transform.py $(BENCH_ARGS_transform)
	$(PY) bench/bench_writer_cpu.py $(BENCH_ARGS_writer_cpu)
	$(PY) bench/bench_preflight.py $(BENCH_ARGS_preflight)
	$(PY) bench/bench_matching.py $(BENCH_ARGS_matching)
	$(PY) bench/bench_airflow.py $(BENCH_ARGS_airflow)

clean: ## Remove the environments and local state
	rm -rf $(VENV) .tools var .pytest_cache .mypy_cache .ruff_cache
