# Two commands on a fresh machine: `make run` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8501
export DO_NOT_TRACK := 1
export STREAMLIT_BROWSER_GATHER_USAGE_STATS := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint unit pages e2e bench demo loadtest setup browser clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --requirement requirements.lock
	$(PY) -m pip install --quiet --no-deps --editable .
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser of its own).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

run: setup
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT) --server.headless true

test: setup browser lint
	$(PY) -m pytest tests

# The architecture's contracts (pyproject.toml [tool.importlinter]): layers, no Streamlit in core, pages are views.
lint: setup
	$(VENV)/bin/lint-imports

unit: setup
	$(PY) -m pytest tests/unit

pages: setup
	$(PY) -m pytest tests/pages

e2e: setup browser
	$(PY) -m pytest tests/e2e

bench: setup
	$(PY) -m bench

demo: setup
	$(VENV)/bin/workbench demo

loadtest: setup
	$(PY) -m bench.loadtest

clean:
	rm -rf $(VENV) .bench_cache
