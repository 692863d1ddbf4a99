# The verbs of warmpool. Every target does its own set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup gen check-gen lint test fuzz run migrate bench bench-controller demo clean

setup: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	# Make the repo root and gen/ importable from the venv (what an editable install would do).
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen" > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/warmpool.pth"
	touch $@

gen: setup
	$(BIN)/buf generate

# Fails when gen/ differs from what the protos generate now.
check-gen: setup
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
	$(BIN)/buf generate -o $$tmp && \
	if ! diff -r $$tmp/gen gen > $$tmp/diff; then \
		cat $$tmp/diff; echo "gen/ is stale: run 'make gen' and commit it"; exit 1; \
	fi && echo "gen/ is up to date"

lint: setup
	$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: check-gen lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The hostile-input properties with 2000 examples each instead of make test's 150.
fuzz: setup
	WARMPOOL_FUZZ_EXAMPLES=2000 $(BIN)/python -m pytest tests/test_reliability_hostile_input.py $(PYTEST_ARGS)

run: setup
	$(BIN)/python -m server serve

migrate: setup
	$(BIN)/python -m server migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Load tools come from Debian packages (h2load: nghttp2-client).
bench: setup
	@command -v h2load >/dev/null && command -v wrk >/dev/null || \
		(apt-get install -y -q nghttp2-client wrk >/dev/null || sudo apt-get install -y -q nghttp2-client wrk)
	$(BIN)/python -m bench $(BENCH_ARGS)

# The controller's figures (convergence, claims, replenishment, idle CPU); see docs/controller.md.
bench-controller: setup
	$(BIN)/python -m bench.controller $(BENCH_ARGS)

# A warm pool's life through curl and grpcurl, with provider latencies in seconds.
demo: setup
	$(BIN)/python tools/demo.py $(DEMO_ARGS)
