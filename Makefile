# The two commands of the README: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test browser lab screenshots install clean help

help:
	@echo "make demo   set up .venv, then generate, ingest and report the demo org (outputs/2026-10/index.html)"
	@echo "make test   set up .venv with the test extra, then run the test suite"
	@echo "make lab    install JupyterLab (the lab extra) and open notebooks/ on the demo warehouse"
	@echo "make screenshots  README screenshots of the rendered demo (docs/screenshots/), with headless Chromium"

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or run: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/copilot-finops demo

# Bytecode compiled once up front: the suite starts a few hundred kernels and CLI processes, each importing the
# package, and an environment with PYTHONDONTWRITEBYTECODE would otherwise compile it in every one of them
test: $(STAMP) browser
	$(BIN)/python -m compileall -q lib tests
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q

# Headless Chromium for tests/test_browser.py, from Debian's packages when we are root (CI, a container) and it is
# missing; elsewhere that test is skipped and says how to install it
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	    apt-get install -y -qq chromium >/dev/null; } || \
	  echo "no Chromium: tests/test_browser.py will be skipped (apt-get install chromium to include it)"

# JupyterLab as root too (containers), printing its URL when there is no browser: see `copilot-finops lab --help`
lab: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[lab,test]'
	@test -f data/warehouse.duckdb || $(BIN)/copilot-finops demo
	$(BIN)/copilot-finops lab --notebooks notebooks

# The README's screenshots, from the rendered demo (make demo first); needs Chromium on PATH
screenshots: $(STAMP)
	$(BIN)/python bench/screenshots.py --outputs outputs --period 2026-10 --team platform-sre --to docs/screenshots

clean:
	rm -rf $(VENV) data outputs/20*
