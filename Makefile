# Two commands do everything: `make report` and `make test`. Both set up .venv/ from uv.lock first.
PYTHON ?= python3
UV_VERSION := 0.13.8
VENV := .venv
TOOLS := .tools
UV := $(TOOLS)/bin/uv
STAMP := $(VENV)/.synced
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
export UV_PYTHON_DOWNLOADS := never
export DAGSTER_HOME ?= $(abspath .dagster_home)
ROWS ?= 5000000

.PHONY: setup report test instance ui daily bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(STAMP): uv.lock pyproject.toml Makefile | $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	@touch $(STAMP)

setup: $(STAMP)

report: setup
	$(VENV)/bin/displacement build

test: setup
	$(VENV)/bin/python -m pytest

# The Dagster instance the UI, the daemon and cron runs share (run history, the DuckDB pool, retries).
# The project's own (.dagster_home/) takes the project's dagster.yaml whenever it is newer; a DAGSTER_HOME
# of your own (PostgreSQL storage, say) keeps its dagster.yaml, which is copied there only if missing.
instance:
	@mkdir -p "$(DAGSTER_HOME)" && if [ "$(DAGSTER_HOME)" = "$(abspath .dagster_home)" ]; then \
		cp -u dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"; \
	else cp -n dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"; fi

# The web UI, the daemon (schedule, inbox sensor, run queue, pools) and the code server, on 127.0.0.1.
ui: setup instance
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p $${PORT:-3000}

# What the daily schedule runs (fetch, rebuild, publish), once, on the shared instance: for cron.
daily: setup instance
	$(VENV)/bin/dagster job execute -m pipeline.definitions -j daily

bench: setup
	$(VENV)/bin/python -m bench.run --rows $(ROWS)

clean:
	rm -rf $(VENV) $(TOOLS) reports/site data/warehouse.duckdb* .dagster_home
