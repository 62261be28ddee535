# One Makefile for humans and CI. `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run install install-dev test lint format bench fixtures image clean chromium
CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(PIP) install -c constraints.txt -e '.[test,dev]'
	touch $@

install: $(STAMP)
install-dev: $(DEV_STAMP)

## run: start the service with ./config on SQLite (./data/), console alerts unless Slack is configured
run: $(STAMP)
	$(BIN)/newswatch run

## chromium: Debian's Chromium for the end-to-end tests of the web pages (Playwright drives it; it never downloads a browser)
chromium: $(CHROMIUM)
$(CHROMIUM):
	command -v apt-get >/dev/null || { echo "make: $(CHROMIUM) is missing and there is no apt-get to install it" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
	  || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; }

## test: install everything and run the whole suite (SQLite and PostgreSQL)
test: $(DEV_STAMP) $(CHROMIUM)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

## lint: ruff, mypy and hadolint (the Dockerfile)
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint --failure-threshold error Dockerfile

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## image: build the container image from ./Dockerfile with podman and smoke-test it
image:
	bash scripts/container-smoke.sh

## bench: print the benchmark figures
bench: $(DEV_STAMP)
	$(BIN)/python -m bench

## fixtures: regenerate the feed fixtures, the demo feed and the config JSON Schemas
fixtures: $(STAMP)
	$(BIN)/python scripts/build_fixture_feeds.py
	$(BIN)/python scripts/write_schemas.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
