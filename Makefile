# Every target sets itself up: a fresh clone runs `make demo` or `make test` directly.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE ?= medium
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

.PHONY: setup demo test test-spark lint dev bench lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

# Regenerate the lock from pyproject.toml in a throwaway environment.
lock:
	rm -rf /tmp/salesops-lock && $(PYTHON) -m venv /tmp/salesops-lock
	/tmp/salesops-lock/bin/pip install --quiet --upgrade pip
	/tmp/salesops-lock/bin/pip install --quiet '.[dev,bench]'
	/tmp/salesops-lock/bin/pip freeze --exclude salesops | grep -v '^-e' > requirements.lock

demo: setup
	$(BIN)/salesops demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) -C dbt_project lint

# Spark (tests/engines/test_spark_engine.py) needs Java 17: make test builds every model on a
# local Spark session and compares the marts with DuckDB's (a few minutes); make test-spark also
# runs the project's data tests and unit tests on Spark (15-40 min on two cores).
test: setup lint
	bash scripts/system-packages.sh chromium postgresql openjdk-17-jre-headless
	$(BIN)/pytest -n 2 --durations=25 -m "not spark_full"

test-spark: setup
	bash scripts/system-packages.sh openjdk-17-jre-headless
	$(BIN)/pytest -n 0 --durations=10 -m spark

dev: setup
	$(BIN)/salesops dev

bench: setup
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev,bench]'
	$(BIN)/python -m bench harness --scale $(SCALE)

clean:
	rm -rf $(VENV) data .pytest_cache dbt_project/target
