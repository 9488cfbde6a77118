# Every target bootstraps itself: uv is installed with pip when missing, then `uv sync` installs the rest.
SHELL := /bin/bash
PORT ?= 8000
STAGE ?= dev
# uv from PATH, else the one pip installs as a module (no PATH or shim changes needed).
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")

.PHONY: dev test lint bootstrap

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

dev: bootstrap ## run Errata locally: prints the DSN, API token and dashboard URL
	@PORT=$(PORT) $(UV) run --frozen errata dev --port $(PORT)

test: bootstrap ## lint, type-check and run every test
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy shared local functions
	$(UV) run --frozen pytest

lint: bootstrap
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .
