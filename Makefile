# Two commands on a fresh machine (Python 3.11+ and make): `make demo`, `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-dbos proof bench run doctor validate clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# Plays the CC workflow on offline providers; unattended when stdin is not a terminal.
demo: $(STAMP)
	@if [ -t 0 ]; then $(BIN)/ccbot demo; else $(BIN)/ccbot demo --auto; fi

# Everything on SQLite, then the engine, bot and store suites again on a real PostgreSQL
# that the tests start themselves, with the multi-process test of tests/scaled (skipped, saying
# why, where PostgreSQL is not installed).
test: $(STAMP)
	$(BIN)/python -m pytest
	CCBOT_TEST_DATABASE=postgres $(BIN)/python -m pytest tests/engine tests/bot tests/test_store.py tests/scaled

# The same suites with the jobs and renders on DBOS (CCBOT_JOBS=dbos, engine/durable/); the DBOS
# runner's own tests (tests/engine/test_durable_*.py) already run in `make test`.
test-dbos: $(STAMP)
	CCBOT_JOBS=dbos $(BIN)/python -m pytest
	CCBOT_JOBS=dbos CCBOT_TEST_DATABASE=postgres $(BIN)/python -m pytest tests/engine tests/bot tests/test_store.py tests/scaled

# The long resilience run (docs/reliability.md): a SIGKILL after every kind of event, provider and
# Telegram faults, bad input, 50 people at once; prints the measurements, writes build/proof.json.
proof: $(STAMP)
	CCBOT_PROOF=1 $(BIN)/python -m pytest tests/resilience -q

# Speed and memory goals live here, not in timed tests: each prints numbers and ratios.
bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/compose.py
	$(BIN)/python benchmarks/bot_load.py
	$(BIN)/python benchmarks/durable.py --postgres
	$(BIN)/python benchmarks/throughput.py

run: $(STAMP)
	$(BIN)/ccbot run

doctor: $(STAMP)
	$(BIN)/ccbot doctor

validate: $(STAMP)
	$(BIN)/ccbot validate workflows/cc

clean:
	rm -rf $(VENV) .pytest_cache
