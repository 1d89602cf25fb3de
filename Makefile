# lakerec: `make run` runs the pipeline on the embedded default, `make test` runs every test.
# Both set up what they need first: a virtualenv in .venv and Delta's jars in .jars/delta.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CONF ?= conf/local.yaml
DELTA_JARS := .jars/delta

.PHONY: setup lock run test test-orchestration test-fast lint mlflow-ui dist clean jars cluster-demo

UV_VERSION := 0.13.9
LOCK := requirements.lock

# Every dependency at the version in $(LOCK) (used as pip-style constraints, the way Airflow
# publishes its own), installed by uv; `make lock` re-resolves it after pyproject.toml changes.
# Compiled to bytecode at install (uv does not by default): where PYTHONDONTWRITEBYTECODE is
# set, every process (a spark-submit driver, an Airflow task) would otherwise compile its
# imports from source each time, 5 s of each job's start (bench/job_start.md).
$(VENV)/.installed: pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11) on PATH"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -c $(LOCK) \
	    -e ".[dev,airflow,bench]"
	touch $@

# Re-resolve every dependency (run after changing pyproject.toml; commit the lock it writes).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra airflow --extra bench --python-version 3.11 \
	    --python-platform x86_64-manylinux_2_28 --quiet -o $(LOCK)

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

# Two workers, whole modules each, longest modules first (tests/conftest.py orders them).
test: setup
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=30

# Only the whole-pipeline orchestration runs (Airflow dag.test(), the standalone cluster).
test-orchestration: setup
	$(BIN)/pytest -m orchestration

test-fast: setup
	$(BIN)/pytest -m "not slow"

# ruff (style, imports), mypy (types), import-linter (the layer contract in pyproject.toml).
lint: setup
	$(BIN)/ruff check lib jobs tests airflow_dags bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports

mlflow-ui: setup
	$(BIN)/mlflow ui --backend-store-uri sqlite:///workspace/mlflow.db --port 5000

# The library for a cluster: a wheel to install, and $(DIST)/lakerec.zip (lakerec/ with its
# base.yaml) to ship with spark-submit --py-files where lakerec is not installed.
DIST ?= dist
dist: $(VENV)/.installed
	rm -rf build $(DIST)/lakerec-*.whl $(DIST)/lakerec.zip
	$(BIN)/pip wheel . --no-deps --quiet -w $(DIST)
	$(BIN)/python tools/zip_library.py $(DIST)/lakerec.zip

# A Spark standalone master and two workers on 127.0.0.1, the whole pipeline submitted to
# them as packaged jobs, then the cluster stopped (also when a step fails). See tools/cluster.sh.
# Generated data a tenth of `make run`'s; CLUSTER_DEMO_SETS= for the full size.
CLUSTER_DEMO_SETS ?= generate.customers=2000 generate.items=500 generate.events=50000
cluster-demo: setup dist
	LAKEREC_SETS="$(CLUSTER_DEMO_SETS)" tools/cluster.sh demo

clean:
	rm -rf workspace spark-warehouse metastore_db derby.log dist build

# Headless Chromium for the Data Docs browser test (tests/quality/test_quality_step.py). Best-effort:
# without root or network it prints why and the test skips; it never fails the build.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	    echo "chromium is installed"; \
	else \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
	        || echo "could not install chromium (needs root and Debian's apt): the Data Docs browser test will skip"; \
	fi
