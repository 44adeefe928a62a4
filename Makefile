# Everything sets itself up: a virtual environment in .venv with the toolkit and its tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test lint bench golden clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## build and load the example vault on SQLite, no server needed
	$(BIN)/datavault demo build/demo

test: $(STAMP)  ## lint, then every test on SQLite and PostgreSQL
	$(BIN)/ruff check datavault tests bench
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check datavault tests bench

bench: $(STAMP)  ## load and mart figures against the database's own floor
	$(BIN)/python bench/load_bench.py --rows 1000000 --engines postgresql,sqlite
	$(BIN)/python bench/mart_bench.py --orders 200000 --engines postgresql,sqlite

golden: $(STAMP)  ## rewrite tests/golden after an intended change of the generated SQL
	DATAVAULT_UPDATE_GOLDEN=1 $(BIN)/pytest tests/test_generate.py -q

clean:
	rm -rf $(VENV) build dist generated datavault-demo .pytest_cache .hypothesis
