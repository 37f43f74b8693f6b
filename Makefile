# Cumulo: `make run` sets up a fresh Debian/Ubuntu machine and starts the platform;
# `make test` sets up the same and runs the whole suite (SQLite and PostgreSQL).
SHELL := /bin/sh
export PATH := $(HOME)/.local/bin:$(PATH)
UV ?= uv
PYTEST_ARGS ?=
# a failed test runs once more (rare timing failures on a loaded machine); shown as R and "rerun"
PYTEST_RERUNS ?= 1

.PHONY: install deps run test bench lint clean

# --compile-bytecode: the .pyc files are written once here, so no start of `cumulo` (CLI or server)
# compiles the dependencies again, even where PYTHONDONTWRITEBYTECODE is set
install:
	@./scripts/ensure-uv.sh
	$(UV) sync --frozen --compile-bytecode

deps: install
	@./scripts/ensure-docker.sh
	@./scripts/ensure-qemu.sh
	.venv/bin/cumulo images bootstrap

run: deps
	.venv/bin/cumulo up

# lint (ruff + the import contracts) runs first, so CI holds the layering line
test: deps lint
	@./scripts/ensure-postgres.sh
	@./scripts/ensure-chromium.sh
	.venv/bin/python -m pytest -n 2 --dist loadgroup --reruns $(PYTEST_RERUNS) --reruns-delay 2 --durations=40 -rfER $(PYTEST_ARGS)

bench: install
	.venv/bin/python bench/api.py

lint: install
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports
	.venv/bin/mypy

clean:
	rm -rf .cumulo .pytest_cache
