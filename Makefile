# Set-up, run and test the placements service. `make run` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export PLACEMENTS_DATABASE_URL ?= sqlite:///var/placements.db

.PHONY: run test lint typecheck contracts migrations-check pytest fuzz bench bench-http install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p var
	$(BIN)/placements db upgrade
	$(BIN)/placements seed
	$(BIN)/placements tokens demo
	# The scheduler runs beside the API in its own process and stops when the server does.
	$(BIN)/placements scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler 2>/dev/null' EXIT INT TERM; \
	$(BIN)/placements serve --host $(HOST) --port $(PORT)

test: lint typecheck contracts migrations-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

migrations-check: $(STAMP)
	$(BIN)/python -m placements.migrations.check

# The fuzz run (schemathesis, 100 examples x four roles x both databases) is `make fuzz`, which
# .ci/run runs after this.
pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -m "not fuzz"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests ran: failing"; exit 1; fi; exit $$status

# schemathesis --checks all, stateful, 100 examples per operation, four roles, SQLite and PostgreSQL
# (PLACEMENTS_TEST_DATABASE_URL must name a PostgreSQL test database).
fuzz: $(STAMP)
	PLACEMENTS_FUZZ_EXAMPLES=$${PLACEMENTS_FUZZ_EXAMPLES:-100} PLACEMENTS_TEST_REQUIRE_POSTGRES=1 \
	$(BIN)/pytest -q -p no:cacheprovider -m fuzz tests/api/test_openapi_fuzz.py

bench: $(STAMP)
	$(BIN)/python -m solver bench
	$(BIN)/python -m api.bench

# `placements serve` against a minimal Flask app over HTTP, on SQLite and PostgreSQL
# (PLACEMENTS_BENCH_DATABASE_URL, default placements_bench on 127.0.0.1); see docs/benchmarks.md.
bench-http: $(STAMP)
	$(BIN)/python -m api.bench_http

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
