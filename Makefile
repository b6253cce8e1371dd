PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-integration lint demo bench chaos clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; [ $$rc -eq 0 ]
	$(MAKE) lint

# syncd's real process against a real Synapse on 127.0.0.1 (tests/integration/).
# Synapse gets its own venv, cached under .cache/ (gitignored); the first run installs it.
SYNAPSE_VERSION := 1.163.2
SYNAPSE_VENV := .cache/synapse-$(SYNAPSE_VERSION)
SYNAPSE_STAMP := $(SYNAPSE_VENV)/.installed

$(SYNAPSE_STAMP):
	$(PY) -m venv $(SYNAPSE_VENV)
	$(SYNAPSE_VENV)/bin/pip install -q 'matrix-synapse==$(SYNAPSE_VERSION)'
	touch $(SYNAPSE_STAMP)

test-integration: $(STAMP) $(SYNAPSE_STAMP)
	SYNCD_SYNAPSE=$(abspath $(SYNAPSE_VENV))/bin/python $(BIN)/pytest tests/integration; \
	rc=$$?; if [ $$rc -eq 5 ]; then echo "no integration tests collected"; exit 1; fi; [ $$rc -eq 0 ]

lint: $(STAMP)
	$(BIN)/ruff check syncd connectors rules tests
	$(BIN)/mypy

demo: $(STAMP)
	$(BIN)/syncd demo

# Figures for 2,000 and 10,000 third parties; writes docs/performance.md.
# SIZES=2000,10000,50000 adds the large size; BENCH_ARGS="--rounds 1" for a quicker look.
SIZES ?= 2000,10000
bench: $(STAMP)
	$(BIN)/python -m tests.bench --sizes $(SIZES) --write docs/performance.md $(BENCH_ARGS)

# 200 runs of the real daemon killed under seeded faults; writes docs/reliability.md.
# CHAOS_ARGS="--seed 123 --state-loss" replays a seed or adds state loss.
chaos: $(STAMP)
	$(BIN)/python -m tests.chaos --runs 200 $(CHAOS_ARGS)
	$(BIN)/python -m tests.chaos --runs 200 --state-loss --report docs/reliability-state-loss.md $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) .cache
