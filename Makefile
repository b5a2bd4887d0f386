# reckon: two-command quick start (`make demo`, `make test`) on a machine with only Python, make and pip.
# uv is bootstrapped into .tools/ when it is not already on PATH; the project environment is .venv/.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
DEMO_DIR ?= $(CURDIR)/demo_data
DEMO_SCALE ?= 1
DEMO_FROM ?= 2026-01-01
DEMO_TO ?= 2026-03-31

.PHONY: env demo test test-fast lint ui bench clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

env: .venv/.synced

# Dagster's home (run history, dynamic partitions) lives in the data directory:
# $(DEMO_DIR)/.dagster_home, written by the reckon CLI with this repository's dagster.yaml.
demo: env
	$(RUN) reckon demo --data $(DEMO_DIR) --scale $(DEMO_SCALE) --from $(DEMO_FROM) --to $(DEMO_TO)

test: env
	$(RUN) ruff check .
	$(RUN) pytest

test-fast: env
	$(RUN) pytest -m "not slow"

lint: env
	$(RUN) ruff check .
	$(RUN) ruff format --check .

ui: env
	$(RUN) reckon ui --data $(DEMO_DIR)

# Small scales, minutes in all; the figures in docs/performance.md use the larger scales
# named there (e.g. `uv run python -m benchmarks.costing --sizes 1M`).
bench: env
	$(RUN) python -m benchmarks.costing --sizes 100K
	$(RUN) python -m benchmarks.parsing --scale small
	$(RUN) python -m benchmarks.reconciliation --shipments 100000

clean:
	rm -rf .venv .tools $(DEMO_DIR)
