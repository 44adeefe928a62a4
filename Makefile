# Everything sets itself up: a virtual environment in .venv with the toolkit and its tests.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
BASE    = $(VENV)/.installed-base
STAMP   = $(VENV)/.installed

.PHONY: demo test lint bench bench-peers golden clean system-packages

# the toolkit alone (for the demo), then with what the tests need (DuckDB, PySpark, ...)
$(BASE): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(BASE)

$(STAMP): $(BASE)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(BASE)  ## build and load the example vault on SQLite, no server needed
	$(BIN)/datavault demo build/demo

# the docs site's tests: Graphviz draws its diagram, a headless Chromium (with Debian's
# chromedriver, the same build) reads its pages; installed with apt when missing and allowed
system-packages:
	@missing=""; \
	for needed in dot:graphviz chromium:chromium chromedriver:chromium-driver; do \
	    command -v "$${needed%%:*}" >/dev/null 2>&1 || missing="$$missing $${needed#*:}"; \
	done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif [ -n "$$missing" ]; then \
	    echo "note: the docs site's browser tests need$$missing (apt-get install$$missing)"; \
	fi

test: $(STAMP) system-packages  ## lint, then every test on SQLite, PostgreSQL, DuckDB and Spark, on every core
	$(BIN)/ruff check datavault tests bench
	$(BIN)/pytest -n auto --dist worksteal $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check datavault tests bench

BENCH_ROWS ?= 1000000 10000000

bench: $(STAMP)  ## load, TPC-H, mart and per-command figures (about an hour)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python bench/command_cost.py --engines postgresql,sqlite --rows $(word 1,$(BENCH_ROWS))
	$(BIN)/python bench/load_bench.py --rows $(word 1,$(BENCH_ROWS)) --engines postgresql,sqlite
	$(if $(word 2,$(BENCH_ROWS)),$(BIN)/python bench/load_bench.py --rows $(word 2,$(BENCH_ROWS)) --engines postgresql)
	$(BIN)/python bench/tpch_bench.py --scale 0.1 --engines postgresql,sqlite
	$(BIN)/python bench/mart_bench.py --orders 200000 --engines postgresql,sqlite
	$(BIN)/python bench/view_bench.py --orders 1000000 --engines postgresql
	$(BIN)/python bench/view_bench.py --orders 200000 --engines sqlite
	$(BIN)/python bench/staging_bench.py --rows $(word 1,$(BENCH_ROWS)) --engines postgresql,sqlite
	$(BIN)/python bench/checks_bench.py --rows $(word 1,$(BENCH_ROWS)) --engines postgresql,sqlite
	$(BIN)/python bench/stream_bench.py --events 80000 --engines postgresql,sqlite

PEERS_ROWS   ?= 1000000 10000000
PEERS_ROUNDS ?= 3

bench-peers: $(STAMP)  ## the toolkit against AutomateDV and datavault4dbt on the same data (hours)
	$(foreach rows,$(PEERS_ROWS),$(BIN)/python bench/peers_bench.py --rows $(rows) --rounds $(PEERS_ROUNDS) &&) true

golden: $(STAMP)  ## rewrite tests/golden after an intended change of the generated SQL
	DATAVAULT_UPDATE_GOLDEN=1 $(BIN)/pytest tests/test_generate.py -q

clean:
	rm -rf $(VENV) build dist generated datavault-demo .pytest_cache .hypothesis
