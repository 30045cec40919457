# Two commands on a fresh machine with Python 3.11:  make demo  and  make test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-spark install lint sql-lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

## demo: generate demo data into the embedded DuckDB file, build every model, sync to the local sandbox
demo: install
	$(BIN)/cdp demo

## test: lint and type-check Python, lint SQL, then the whole test suite on DuckDB, PostgreSQL and Spark
test: install lint typecheck sql-lint pytest

lint: install
	$(BIN)/ruff check reverse_etl tests bench
	$(BIN)/ruff format --check reverse_etl tests bench

sql-lint: install
	$(BIN)/sqlfluff lint models data-tests --processes 2

typecheck: install
	$(BIN)/mypy

# Three processes on the two cores (pytest-xdist; two left a third of the CPU idle while tests waited on
# PostgreSQL and test servers), a whole test file per process so module fixtures are built once; files in
# the order the conftest gives (heaviest first: the Spark project comparison starts at once, beside the rest),
# not xdist's order by number of tests.
pytest: install
	$(BIN)/pytest -q -n 3 --dist loadfile --no-loadscope-reorder

## test-spark: only the whole project built three times on Spark and on DuckDB, compared row by row (part of make test)
test-spark: install
	$(BIN)/pytest -q -m spark_project

bench: install
	$(BIN)/python bench/generate.py

clean:
	rm -rf target logs dbt_packages cdp.duckdb
