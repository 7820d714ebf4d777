# Two commands for a fresh machine with Python 3.11 and make: `make run`, `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export DO_NOT_TRACK := 1
export GX_ANALYTICS_ENABLED := False

.PHONY: install run test test-slow dev bench bench-ingest bench-identity bench-identity-nights bench-accuracy soak reliability-report lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# Reinstall only when the package definition or the lock changes.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/cdp run

# Test files run in parallel, one worker per core (--dist loadfile keeps each file's
# module fixtures in one worker). The dbt manifest is parsed first, so the workers
# do not all parse it at once.
#
# A nightly run in the tests writes more than a thousand events to Dagster's SQLite
# run history, each in its own commit, and dbt commits every model to DuckDB. On
# disk each commit waits for fsync, so the tests' temporary folders go to the RAM
# disk /dev/shm when it has 4 GB free and the machine 8 GB of available memory. A
# whole run leaves about 1.3 GB there, and pytest then keeps only the newest run's
# folders. Set TEST_TMPDIR to use another folder, or to nothing for the system's
# temporary folder.
TEST_TMPDIR ?= $(shell [ -w /dev/shm ] \
	&& [ "$$(df -Pk /dev/shm | awk 'NR == 2 {print $$4}')" -gt 4000000 ] \
	&& awk '/^MemAvailable:/ {exit $$2 < 8000000}' /proc/meminfo && echo /dev/shm)
TEST_ENV := $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR))
TEST_OPTIONS := $(if $(TEST_TMPDIR),-o tmp_path_retention_count=1)
# The suite should stay under about 15 minutes on 2 cores; the 20 slowest tests and
# setups are listed at the end, to show where time goes.
test: install
	$(BIN)/python -c "from orchestration.dbt_project import ensure_manifest; ensure_manifest()"
	$(TEST_ENV) $(BIN)/python -m pytest -n auto --dist loadfile --durations=20 $(TEST_OPTIONS)

dev: install
	$(BIN)/cdp dev

# The whole nightly job at 10,000, 100,000 and 1,000,000 customers; the largest
# size needs about an hour here, so pass SIZES="--customers 10000" for a quick look.
bench: install
	$(BIN)/python -m benchmarks.nightly_scale $(SIZES)

# Scale tests left out of make test.
test-slow: install
	$(BIN)/python -m pytest -m slow -o addopts="" -s

bench-ingest: install
	$(BIN)/python -m benchmarks.ingestion_speed

bench-identity: install
	$(BIN)/python -m benchmarks.identity_scale

# An incremental identity night against a full one on the same data, compared.
bench-identity-nights: install
	$(BIN)/python -m benchmarks.identity_nights

# Consecutive nights on one warehouse with the checks of benchmarks/soak.py; each
# night is one full cdp run, and the first night runs twice.
NIGHTS ?= 20
soak: install
	$(BIN)/python -m benchmarks.soak --nights $(NIGHTS)

# Runs the fault and bad-input tests group by group and rewrites RELIABILITY.md.
reliability-report: install
	$(BIN)/python -m benchmarks.reliability_report

# recordlinkage 0.16, the newest release, requires pandas<3, so the accuracy
# benchmark runs its recipe in a separate venv instead of the project's.
RL_VENV := .venv-recordlinkage
$(RL_VENV)/bin/python:
	$(PYTHON) -m venv $(RL_VENV) || python3 -m venv $(RL_VENV)
	$(RL_VENV)/bin/python -m pip install --quiet "recordlinkage==0.16" "pandas==2.3.3"

bench-accuracy: install $(RL_VENV)/bin/python
	CDP_RECORDLINKAGE_PYTHON=$(CURDIR)/$(RL_VENV)/bin/python \
		$(BIN)/python -m identity.benchmark --dataset all --customers 5000

lint: install
	$(BIN)/ruff check ingestion identity activation orchestration benchmarks tests

clean:
	rm -rf $(RL_VENV) data/warehouse.duckdb* data/analytics.duckdb data/outbox data/reports data/spark .dagster dbt_project/target
