# reckon: two-command quick start (`make demo`, `make test`) on a machine with only Python, make and pip.
# uv is bootstrapped into .tools/ when it is not already on PATH; the project environment is .venv/.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/bin/uv)
RUN := $(UV) run --frozen
DEMO_DIR ?= $(CURDIR)/demo_data
DEMO_SCALE ?= 1
# The demo's days: by default the 200 days ending yesterday (`reckon demo`); set both to pin them.
DEMO_FROM ?=
DEMO_TO ?=
# Tests run on 2 pytest-xdist workers (this project's machines have 2 cores; `TEST_WORKERS=auto`
# on a bigger one, `TEST_WORKERS=0` for one process). loadscope keeps a module's tests on one
# worker, so a module fixture (a generated data set, a whole Dagster run) is built once.
TEST_WORKERS ?= 2
PYTEST_PARALLEL := -n $(TEST_WORKERS) --dist loadscope

.PHONY: env demo test test-fast lint typecheck ui bench clean

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

# --compile-bytecode: the dependencies' .pyc are written once here; where PYTHONDONTWRITEBYTECODE
# is set, Python would otherwise recompile Dagster, Polars & co. on every start (seconds each).
.venv/.synced: pyproject.toml uv.lock Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

env: .venv/.synced

# Dagster's home (run history, dynamic partitions) lives in the data directory:
# $(DEMO_DIR)/.dagster_home, written by the reckon CLI with this repository's dagster.yaml.
demo: env
	$(RUN) reckon demo --data $(DEMO_DIR) --scale $(DEMO_SCALE) \
		$(if $(DEMO_FROM),--from $(DEMO_FROM)) $(if $(DEMO_TO),--to $(DEMO_TO))

# Lint first, then every test, slow ones included (what CI runs).
test: lint
	$(RUN) pytest $(PYTEST_PARALLEL)

# Every test not marked slow: about a minute on 2 cores.
test-fast: env
	$(RUN) pytest -m "not slow" $(PYTEST_PARALLEL)

# Lint: the type checker and ruff (`make test` runs both first).
lint: env typecheck
	$(RUN) ruff check .
	$(RUN) ruff format --check .

# mypy over the shipped packages, configured in pyproject.toml ([tool.mypy]).
typecheck: env
	$(RUN) mypy

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
