PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/inferops: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

.PHONY: demo test ui bench
demo: $(BIN)/inferops  ## install, then assess the bundled demo fleet
	$(BIN)/inferops assess --demo

test: $(BIN)/inferops  ## install test dependencies, then lint, type-check, the import contract and the suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy inferops_pipeline
	$(BIN)/lint-imports
	$(BIN)/pytest -q

ui: $(BIN)/inferops  ## Dagster UI on the demo fleet
	DAGSTER_HOME=$${DAGSTER_HOME:-$$PWD/.dagster_home} sh -c 'mkdir -p $$DAGSTER_HOME && cp -n dagster.yaml $$DAGSTER_HOME/ ; $(BIN)/dagster dev -w workspace.yaml'

bench: $(BIN)/inferops  ## speed and memory figures (not part of the tests); see bench/RESULTS.md
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done
