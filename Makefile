# lakerec: `make run` runs the pipeline on the embedded default, `make test` runs every test.
# Both set up what they need first: a virtualenv in .venv and Delta's jars in .jars/delta.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CONF ?= conf/local.yaml
DELTA_JARS := .jars/delta

.PHONY: setup run test test-fast lint mlflow-ui dist clean jars

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,airflow]"
	touch $@

# Delta's jars from Maven Central through Maven (Spark's own resolver cannot always reach it).
$(DELTA_JARS)/.fetched: tools/delta-jars/pom.xml
	@command -v mvn >/dev/null || { echo "need Maven (mvn) to fetch Delta's jars, or set spark.delta_jars_dir to a folder holding them"; exit 1; }
	rm -rf $(DELTA_JARS) && mkdir -p $(DELTA_JARS)
	mvn --quiet --batch-mode -f tools/delta-jars/pom.xml dependency:copy-dependencies \
	    -DincludeGroupIds=io.delta -DoutputDirectory=$(CURDIR)/$(DELTA_JARS)
	touch $@

jars: $(DELTA_JARS)/.fetched

setup: $(VENV)/.installed jars

run: setup
	$(BIN)/lakerec run --conf $(CONF)

test: setup
	$(BIN)/pytest

test-fast: setup
	$(BIN)/pytest -m "not slow"

lint: setup
	$(BIN)/ruff check lib jobs tests airflow_dags bench
	$(BIN)/mypy

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///workspace/mlflow.db --port 5000

clean:
	rm -rf workspace spark-warehouse metastore_db derby.log dist build
