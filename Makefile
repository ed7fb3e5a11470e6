# Two commands: `make run` (the local stack) and `make test` (lint and every test). Also:
# `make package` (the prod template and zip, linted), `make bench` (round trips, cold import,
# the email worker: README "Benchmarks"), `make fuzz` (schemathesis, a longer run).
# Each creates the virtual environment and installs what is missing first.

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
PYTHON  ?= python3

.PHONY: run test lint bench package fuzz clean chromium

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "pip<26.3"
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m scripts.local_stack

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
chromium:
	command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

test: lint chromium
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m scripts.bench
	$(PY) -m scripts.bench_worker

package: $(STAMP)
	$(PY) -m scripts.package

fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-200} $(PY) -m pytest -p no:cacheprovider -m fuzz tests/e2e/test_fuzz.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts build
