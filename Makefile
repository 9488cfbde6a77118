# Every target bootstraps itself: uv is installed with pip when missing, then `uv sync` installs the Python
# dependencies from uv.lock and `npm ci` the CDK CLI and Node 22 from package-lock.json.
SHELL := /bin/bash
PORT ?= 8000
STAGE ?= dev
PROFILE ?= standard
# uv from PATH, else the one pip installs as a module (no PATH or shim changes needed).
UV = $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
# The CDK toolchain's Node 22 (node_modules/.bin) comes first; jsii runs on it.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(CURDIR)/.cache/jsii

.PHONY: dev demo test build synth deploy bench lint bootstrap bootstrap-node bootstrap-browser bootstrap-native

dev: bootstrap ## run Errata locally: prints the DSN, API token and dashboard URL
	@PORT=$(PORT) $(UV) run --frozen errata dev --port $(PORT)$(if $(filter 1 yes true,$(RESET)), --reset)$(if $(DATA_DIR), --data-dir $(DATA_DIR))

demo: bootstrap ## send a few realistic errors to a running `make dev`
	@$(UV) run --frozen errata demo

test: bootstrap bootstrap-node bootstrap-browser bootstrap-native build ## lint, type-check and run every test
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy shared local functions infra sdk/errata_sdk
	$(UV) run --frozen pytest -n 2 --dist loadgroup

build: bootstrap ## the Lambda layer and function folders in .build/, without Docker
	@UV="$(UV)" bash layers/build.sh

synth: bootstrap bootstrap-node build ## cdk.out/<stage>: the stage's CloudFormation templates, offline
	$(UV) run --frozen python -m infra.app --stage $(STAGE) --profile $(PROFILE) --outdir cdk.out/$(STAGE)

deploy: bootstrap bootstrap-node build ## deploy a stage with the AWS credentials in your environment
	cdk deploy --all --require-approval broadening -c stage=$(STAGE) -c profile=$(PROFILE) \
	  $(if $(ALARM_EMAIL),-c alarmEmail=$(ALARM_EMAIL)) $(if $(ALERT_EMAIL),-c alertEmail=$(ALERT_EMAIL))

bench: bootstrap bootstrap-node
	$(UV) run --frozen python bench/grouping.py
	$(UV) run --frozen python bench/symbolication.py
	$(UV) run --frozen python bench/pipeline.py --events 300
	$(UV) run --frozen python bench/alert_latency.py --issues 200
	$(UV) run --frozen python bench/idle_cpu.py --seconds 30
	$(UV) run --frozen python bench/peer.py
	$(UV) run --frozen python bench/ingest_floor.py  # ingest alone: the ceiling it puts on #15's ratio
	$(UV) run --frozen python bench/cost.py --scale 0.1  # a tenth of #14's workloads (~10 min here); --scale 1: the full sizes
	$(UV) run --frozen python bench/scale_sim.py  # the write path at 300,000 events/s (docs/scale.md, ~5 min)

lint: bootstrap
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bootstrap:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet

# The dashboard's browser tests drive Debian's Chromium (Playwright's own browser download does not work here).
bootstrap-browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The native symbolication tests build a C and a Rust program and read them with binutils (Debian's packages).
bootstrap-native:
	@command -v gcc >/dev/null 2>&1 && command -v rustc >/dev/null 2>&1 && command -v addr2line >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc rustc binutils >/dev/null; }

bootstrap-node:
	@[ -x node_modules/.bin/cdk ] && [ -x node_modules/.bin/node ] && [ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --loglevel=error
