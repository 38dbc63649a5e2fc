# Shortcuts. `make run` and `make test` are the README's quick start: each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-deps
TEST_STAMP := $(VENV)/.test-deps
WEB_STAMP := web/node_modules/.videoassist-installed

.PHONY: setup run test test-fast e2e lint typecheck bench fuzz system-deps clean audit cluster

setup: $(RUN_STAMP) $(WEB_STAMP)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(RUN_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

run: setup
	$(BIN)/videoassist serve

# Debian packages the tests use: the browser for end-to-end tests, coturn for the TURN tests
# (tests/integration/test_turn.py runs its own turnserver on loopback; the package's system
# service is not used), iproute2 for the LAN trial's network namespace (tests/integration/test_tls.py),
# PostgreSQL for the store contract on both engines (tests/support/postgres.py starts its own
# cluster on loopback; the package's system service is not used), redis-server for the cluster
# tests (tests/support/redis.py, likewise on loopback), docker-compose to validate
# docker/compose.yaml (`config` needs no Docker engine; tests/integration/test_deployment.py).
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v turnserver >/dev/null 2>&1 || missing="$$missing coturn"; \
	command -v ip >/dev/null 2>&1 || missing="$$missing iproute2"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || missing="$$missing docker-compose"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian's$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q --no-install-recommends $$missing; \
	fi

# The suite on two workers (a test file stays on one), then alone the tests that measure media
# against the clock (marked `solo`), which a busy neighbour would make miss their frames.
test: $(TEST_STAMP) $(WEB_STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --dist loadfile -m "not solo"
	$(BIN)/pytest -m solo

test-fast: $(TEST_STAMP) $(WEB_STAMP)
	$(BIN)/pytest -m "not e2e"

lint: $(TEST_STAMP) typecheck
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy

# The compose topology without Docker (docker/local.sh): PostgreSQL, Redis, coturn and a node on
# loopback, state in var/local. See docs/operations.md.
cluster: $(RUN_STAMP) $(WEB_STAMP) system-deps
	$(BIN)/pip install --quiet -e ".[postgresql,cluster]"
	docker/local.sh

bench: $(TEST_STAMP) $(WEB_STAMP)
	$(BIN)/python -m bench.tap_to_first_frame

# The long fuzzing run (100 000 socket events, 10 000 SDP offers, REST, raw frames; stops by
# itself within an hour); CI runs a bounded amount in tests/integration/test_fuzz.py.
fuzz: $(TEST_STAMP) $(WEB_STAMP)
	$(BIN)/python -m bench.fuzz_long

clean:
	rm -rf $(VENV) web/node_modules

# Advisory-database audit (needs the advisory service reachable; CI runs the local list in
# tests/unit/test_dependency_audit.py, which works offline).
audit: $(TEST_STAMP)
	$(BIN)/pip install --quiet pip-audit
	$(BIN)/pip freeze --exclude-editable > $(VENV)/requirements.lock
	$(BIN)/pip-audit --progress-spinner off -r $(VENV)/requirements.lock
