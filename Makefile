# Two commands: `make run` (the local stack) and `make test` (lint, types and every test). Also:
# `make unit` (the in-process tests alone, on two workers), `make e2e` (the real local stack and
# the browser alone), `make package` (the prod template and zip, linted by cfn-lint and checkov),
# `make bench` (round trips, cold import, the email worker, Argon2 against Lambda's memory:
# README "Benchmarks"), `make load` (the local stack under a mix with faults, README "Load test"), `make fuzz` (schemathesis and the property tests, longer), `make client` (a Python client of
# openapi.yaml in build/portico-client).
# Each creates the virtual environment and the npm tools and installs what is missing first.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3
# checkov pins boto3 and packaging below the app's own: it gets an environment of its own.
CHECKOV_VENV  := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp
# The npm tools of package.json: Redocly CLI (the lint of openapi.yaml) and Redoc's bundle (the
# local stage's API page). `npm ci` installs exactly package-lock.json, again only when it changed.
NODE_STAMP := node_modules/.installed-stamp
# Redocly CLI asks no server about updates (telemetry is off in redocly.yaml).
REDOCLY := REDOCLY_SUPPRESS_UPDATE_NOTICE=true node_modules/.bin/redocly

.PHONY: run test unit e2e lint bench load package fuzz client clean chromium

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

$(CHECKOV_STAMP): deploy/requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r deploy/requirements-checkov.txt
	touch $(CHECKOV_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci
	touch $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(PY) -m scripts.local_stack

lint: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(REDOCLY) lint

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

# In-process tests on two xdist workers, a file per worker at a time (module-scoped worlds
# are built once per file). The end-to-end tests share one local stack in one process: under
# xdist schemathesis would fold its operations into one item (tests/e2e/test_fuzz.py).
unit: $(STAMP) $(NODE_STAMP)
	$(PY) -m pytest -n 2 --dist loadfile --ignore=tests/e2e

e2e: $(STAMP) $(NODE_STAMP) chromium
	$(PY) -m pytest tests/e2e

# Every check: a lint or type error stops it before the tests run. The in-process tests (two
# workers) and the end-to-end ones (mostly waiting on the stack) then run side by side, each
# one's output printed whole when it ends: 1 min 50 s to 4 min 35 s here, by the machine's load
# (README "How the tests stay fast").
test: lint chromium
	$(MAKE) --no-print-directory -j2 --output-sync=target unit e2e

bench: $(STAMP)
	$(PY) -m scripts.bench
	$(PY) -m scripts.bench_worker
	$(PY) -m scripts.bench_passwords
	IMPORT_BENCH_ROWS=5000 $(PY) -m pytest -p no:cacheprovider -q -s -k big_file tests/test_imports.py

# A bounded load test of the real local stack with AWS faults part of the time, and the
# reconciliation after it (README "Load test"); not part of `make test` (its short slice is).
load: $(STAMP)
	$(PY) -m scripts.load --requests $${LOAD_REQUESTS:-3000} --seconds $${LOAD_SECONDS:-120}

package: $(STAMP) $(CHECKOV_STAMP)
	$(PY) -m scripts.package --checkov $(CHECKOV_VENV)/bin/checkov

fuzz: $(STAMP) $(NODE_STAMP)
	FUZZ_COVERAGE=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(PY) -m pytest -p no:cacheprovider -m fuzz tests/e2e/test_fuzz.py
	LONG_PROPERTIES=1 $(PY) -m pytest -p no:cacheprovider -n 2 tests/test_properties.py tests/test_suppression_properties.py
	LONG_PROPERTIES=1 $(PY) -m pytest -p no:cacheprovider tests/e2e/test_concurrency.py tests/e2e/test_link_concurrency.py

# What a platform team runs to get a client (README "The contract"): openapi-python-client with
# openapi-python-client.yaml. tests/e2e/test_generated_client.py generates one too and uses it.
client: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/openapi-python-client generate --path openapi.yaml \
		--config openapi-python-client.yaml --output-path build/portico-client --overwrite --fail-on-warning

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache artifacts build node_modules
