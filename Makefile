# wagate: `make run` serves everything, `make test` runs the whole suite.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench soak demo clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "wagate needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# socket.io-client for /socket.io/socket.io.js (the channel face's example page),
# from the npm registry when npm is present; never kept in the repository.
CLIENT_JS := node_modules/socket.io-client/package.json

$(CLIENT_JS): package.json
	@if command -v npm >/dev/null; then \
		npm install --no-package-lock --no-audit --no-fund --silent; \
	else \
		echo "npm not found: /socket.io/socket.io.js will answer 404 (see docs/compat.md)"; \
	fi

install: $(STAMP) $(CLIENT_JS)

run: install
	$(BIN)/wagate serve

# The dashboard's browser tests drive Debian's Chromium: installed here when
# missing and we may (root with apt), else those tests skip and say why.
test: install
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium for the dashboard's browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

# The suite's long tests, run long: the crash loop (the gateway killed and
# restarted many times; `make test` kills it twice) and the API fuzzing with
# more examples per operation (`make test` runs 5, and 8 chains).
soak: install
	WAGATE_CRASH_LOOP_ROUNDS=$${WAGATE_CRASH_LOOP_ROUNDS:-40} \
	WAGATE_FUZZ_EXAMPLES=$${WAGATE_FUZZ_EXAMPLES:-25} \
	WAGATE_FUZZ_STATEFUL_EXAMPLES=$${WAGATE_FUZZ_STATEFUL_EXAMPLES:-30} \
		$(BIN)/pytest tests/test_crash_loop.py tests/test_fuzz_api.py -p no:randomly -rxX

# The benchmarks load the server with wrk (a C load generator): installed here
# when missing and we may (root with apt), else they say so and stop. Issue 12's
# goals first, then the others; every one runs even if one fails, and the run
# ends with one table of every figure beside its baseline and goal
# (bench/_summary.py). WAGATE_DATABASE_URL=postgresql+asyncpg://... runs them on
# PostgreSQL; BENCH="bench/a.py bench/b.py" runs only those.
BENCH_GOALS := bench/api_throughput.py bench/inbound_throughput.py bench/webhook_throughput.py bench/idle_sessions.py
BENCH ?= $(BENCH_GOALS) $(filter-out $(BENCH_GOALS),$(wildcard bench/[!_]*.py))

bench: install
	@if ! command -v wrk >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing wrk for the benchmarks"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	fi
	@summary=$$(mktemp); trap 'rm -f "$$summary"' EXIT; \
	for script in $(BENCH); do \
		echo "== $$script"; \
		WAGATE_BENCH_SUMMARY="$$summary" $(BIN)/python $$script \
			|| echo "{\"failed\": \"$$script\"}" >> "$$summary"; \
	done; \
	$(BIN)/python bench/_summary.py "$$summary"

demo: install
	$(BIN)/wagate demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
