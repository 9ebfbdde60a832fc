# Set-up, run and test the placements service. `make run` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
MAIL_PORT ?= 8025
export PLACEMENTS_DATABASE_URL ?= sqlite:///var/placements.db

.PHONY: run test lint typecheck contracts migrations-check pytest fuzz browser bench bench-http bench-simulation install clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# GOV.UK Frontend and htmx from npm (package-lock.json), copied where the pages serve them.
VENDOR := api/pages/static/vendor
ASSETS := $(VENDOR)/.copied
GOVUK := node_modules/govuk-frontend/dist/govuk
$(ASSETS): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm (Node.js 20 or later) is needed for the pages' assets" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)
	cp $(GOVUK)/govuk-frontend.min.css $(GOVUK)/govuk-frontend.min.js $(VENDOR)/
	cp -r $(GOVUK)/assets $(VENDOR)/assets
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	touch $@

install: $(STAMP) $(ASSETS)

# Sign-in links and invitations point at the served pages.
run: export PLACEMENTS_PUBLIC_URL ?= http://$(HOST):$(PORT)
run: install
	mkdir -p var
	$(BIN)/placements db upgrade
	$(BIN)/placements seed
	$(BIN)/placements tokens demo
	$(BIN)/placements users demo
	# The scheduler runs beside the API in its own process and stops when the server does. Without
	# PLACEMENTS_SMTP_URL, a local SMTP catcher (aiosmtpd) prints every email here instead.
	mail=; if [ -z "$$PLACEMENTS_SMTP_URL" ]; then \
	  echo "emails (sign-in links, meeting invitations) are printed here: no PLACEMENTS_SMTP_URL"; \
	  $(BIN)/python -m aiosmtpd -n -l $(HOST):$(MAIL_PORT) & mail=$$!; \
	  export PLACEMENTS_SMTP_URL=smtp://$(HOST):$(MAIL_PORT); \
	fi; \
	$(BIN)/placements scheduler & scheduler=$$!; \
	trap 'kill $$scheduler $$mail 2>/dev/null; wait $$scheduler $$mail 2>/dev/null' EXIT INT TERM; \
	$(BIN)/placements serve --host $(HOST) --port $(PORT)

test: lint typecheck contracts migrations-check pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

contracts: install
	$(BIN)/lint-imports

migrations-check: install
	$(BIN)/python -m placements.migrations.check

# The suite on TEST_WORKERS processes (pytest-xdist; each has its own databases, tests/conftest.py;
# tests in one xdist_group share a process), then the `timing` tests, which hold a wall-clock time
# to a limit, alone. Each run must run tests and pass. The fuzz run (schemathesis, 100 examples x
# four roles x both databases) is `make fuzz`, which .ci/run runs after this.
TEST_WORKERS ?= 2
pytest: install
	$(BIN)/pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup \
	  -m "not fuzz and not browser and not timing"; status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests ran: failing"; status=1; fi; \
	$(BIN)/pytest -q -p no:cacheprovider -m "timing and not fuzz and not browser"; timed=$$?; \
	if [ $$timed -eq 5 ]; then echo "no timing tests ran: failing"; timed=1; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; exit $$timed

# schemathesis --checks all, stateful, 100 examples per operation, four roles, SQLite and PostgreSQL
# (PLACEMENTS_TEST_DATABASE_URL must name a PostgreSQL test database).
fuzz: install
	PLACEMENTS_FUZZ_EXAMPLES=$${PLACEMENTS_FUZZ_EXAMPLES:-100} PLACEMENTS_TEST_REQUIRE_POSTGRES=1 \
	$(BIN)/pytest -q -p no:cacheprovider -m fuzz tests/api/test_openapi_fuzz.py

# The pages in Debian's Chromium (/usr/bin/chromium) through Playwright: journeys, axe-core and
# screenshots (var/screenshots/) against the real server on SQLite and PostgreSQL.
browser: install
	PLACEMENTS_TEST_REQUIRE_POSTGRES=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser; \
	status=$$?; if [ $$status -eq 5 ]; then echo "no tests ran: failing"; exit 1; fi; exit $$status

bench: install
	$(BIN)/python -m solver bench
	$(BIN)/python -m api.bench

# One policy-year of each policy on SQLite, seed 1, no hindsight bound: prints the seconds each took
# (docs/benchmarks.md, "Simulation").
bench-simulation: install
	$(BIN)/placements simulate --days 365 --seed 1 --policy all --no-hindsight --out var/bench-simulation

# `placements serve` against a minimal Flask app over HTTP, on SQLite and PostgreSQL
# (PLACEMENTS_BENCH_DATABASE_URL, default placements_bench on 127.0.0.1); see docs/benchmarks.md.
bench-http: install
	$(BIN)/python -m api.bench_http

clean:
	rm -rf $(VENV) var/*.db var/*.db-* node_modules $(VENDOR)
