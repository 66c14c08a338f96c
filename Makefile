# SpendSense: `make run` and `make test` work on a fresh clone (they create .venv first).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DBT := $(CURDIR)/$(BIN)/dbt
SCRATCH := $(CURDIR)/.scratch
CI_AS_OF := 2025-06-30
export DAGSTER_TELEMETRY_DISABLED := 1
export DO_NOT_TRACK := 1

.PHONY: install install-dev install-spark manifest data run test test-spark dbt-build dbt-build-spark pytest dev bench bench-large lint clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	# k8s: tests/test_deploy.py loads the Kubernetes definitions and checks the run launcher's config with it.
	$(BIN)/pip install -q -e '.[dev,k8s]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# SPENDSENSE_ENGINE=spark (docs/scaling.md, "Engines"): Debian's Java 17 when `java` is missing, and the
# `.[spark]` extra (pyspark, dbt-spark[session]). `make run` never needs it.
$(VENV)/.installed-spark: pyproject.toml | $(VENV)/.installed-dev
	$(BIN)/pip install -q -e '.[dev,spark]'
	touch $@

install-spark: $(VENV)/.installed-spark
	@command -v java > /dev/null || { \
		test "$$(id -u)" = 0 || { echo "the Spark engine needs Java 17: sudo apt-get install openjdk-17-jre-headless" >&2; exit 1; }; \
		echo "installing Debian's openjdk-17-jre-headless for the Spark engine"; \
		apt-get update -qq > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless > /dev/null; }

# Dagster loads dbt models from the manifest: build it explicitly before anything imports the definitions.
# The warehouse path is part of dbt's parse state: parsing against the one `spendsense run` uses lets
# the first run keep this parse (docs/performance.md).
DBT_PARSE = cd dbt_project && SPENDSENSE_WAREHOUSE="$${SPENDSENSE_WAREHOUSE:-$(CURDIR)/data/warehouse/spendsense.duckdb}" \
	$(DBT) parse --profiles-dir . --quiet
manifest: install
	$(DBT_PARSE)

# Lint only loads the definitions from the manifest: it parses (about 12 s) only when there is none or
# a dbt file is newer.
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project/models dbt_project/macros dbt_project/tests dbt_project/seeds -type f) \
	dbt_project/dbt_project.yml dbt_project/profiles.yml
$(MANIFEST): $(DBT_SOURCES) | install
	$(DBT_PARSE)

data: install
	@test -f data/raw/synthetic_users.json || $(BIN)/spendsense generate --out data/raw

run: manifest data
	$(BIN)/spendsense run

# dbt build (models, data tests, unit tests) against a scratch warehouse made from a small generated dataset.
dbt-build: install-dev manifest
	rm -rf $(SCRATCH) && mkdir -p $(SCRATCH)
	$(BIN)/spendsense generate --users 40 --seed 7 --as-of $(CI_AS_OF) --out $(SCRATCH)/raw > /dev/null
	SPENDSENSE_WAREHOUSE=$(SCRATCH)/ci.duckdb $(BIN)/spendsense ingest --raw-dir $(SCRATCH)/raw --as-of $(CI_AS_OF)
	# No --vars: the models read the as-of date the ingest recorded in raw.run_context, as in a run (a
	# command-line var would also override the unit tests' own vars).
	cd dbt_project && SPENDSENSE_WAREHOUSE=$(SCRATCH)/ci.duckdb $(DBT) build --profiles-dir .

# The same dbt build on Spark (local[2] session inside dbt): models, data tests, unit tests.
dbt-build-spark: install-spark manifest
	rm -rf $(SCRATCH)/spark && mkdir -p $(SCRATCH)/spark
	$(BIN)/spendsense generate --users 40 --seed 7 --as-of $(CI_AS_OF) --out $(SCRATCH)/spark/raw > /dev/null
	SPENDSENSE_WAREHOUSE=$(SCRATCH)/spark/ci.duckdb $(BIN)/spendsense ingest --raw-dir $(SCRATCH)/spark/raw --as-of $(CI_AS_OF)
	SPENDSENSE_WAREHOUSE=$(SCRATCH)/spark/ci.duckdb $(BIN)/python -m spendsense_dagster.lib.core.spark_inputs
	cd dbt_project && SPENDSENSE_WAREHOUSE=$(SCRATCH)/spark/ci.duckdb $(DBT) build --profiles-dir . --target spark

# The Spark engine's tests (tests/test_spark_engine.py): the known-answer run on both engines, compared.
test-spark: install-spark manifest
	$(BIN)/pytest tests/test_spark_engine.py

# The browser tests drive Debian's chromium: Playwright cannot download its own browser here.
chromium:
	@test -x /usr/bin/chromium || { \
		test "$$(id -u)" = 0 || { echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1; }; \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; }

# install-spark: the suite includes the Spark engine's tests (tests/test_spark_engine.py, about 5 minutes).
# Two workers, each taking whole test modules (their module fixtures run once), the slowest modules first
# (tests/conftest.py); `pytest tests/test_x.py` alone stays in one process.
PYTEST_WORKERS ?= 2
pytest: install-spark manifest chromium
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: lint dbt-build pytest

dev: manifest
	mkdir -p .dagster_home && cp dagster.yaml .dagster_home/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.dagster_home $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# Benchmarks, not tests: print the table of docs/performance.md (default data, 5,000 and 10,000 users).
bench: install-dev manifest
	$(BIN)/python scripts/benchmark.py 75 5000 10000

# 100,000 users (21.5 M transactions) from Parquet: about 6 GB of disk under data/bench/, minutes to run.
bench-large: install-dev manifest
	$(BIN)/python scripts/benchmark.py --runs 1 100000

# ruff (rules in pyproject.toml), sqlfluff on the dbt project, and Dagster's own check of the definitions.
# sqlfluff (both cores, about 40 s) and Dagster's check (mostly imports, about 10 s) run side by side;
# either failing fails lint. sqlfluff reads the dbt templater setting only from dbt_project/.sqlfluff.
lint: install-dev $(MANIFEST)
	$(BIN)/ruff check spendsense_dagster tests scripts
	$(BIN)/ruff format --check spendsense_dagster tests scripts
	cd dbt_project && $(CURDIR)/$(BIN)/sqlfluff lint --processes 2 models tests & sqlfluff=$$!; \
		$(BIN)/dagster definitions validate -m spendsense_dagster.definitions; validate=$$?; \
		wait $$sqlfluff && test $$validate = 0

clean:
	rm -rf $(SCRATCH) data/warehouse data/review data/exports dbt_project/target dbt_project/logs
