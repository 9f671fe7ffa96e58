# Every target sets up what it needs: a fresh checkout needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PEERS  := tests/peers

.PHONY: demo test lint typecheck pytest sandbox bench venv peers browser lab clean

venv: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs when pyproject.toml changes; the stamp keeps repeated runs fast.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,parquet]'
	touch $@

# The independent Bayeux peers (official CometD JS client, faye) live in tests/peers/node_modules (ignored).
peers: $(PEERS)/node_modules/.installed

$(PEERS)/node_modules/.installed: $(PEERS)/package.json $(PEERS)/package-lock.json
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium drives the JupyterLab browser test through Python playwright (no browser download).
# CI runs as root; elsewhere sudo is used when it is there.
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# Starts an in-process sandbox, runs notebooks/01-quickstart.ipynb headless against it, writes
# build/demo/01-quickstart.html and prints a summary.
demo: venv
	$(PY) -m gwsnb._demo_report

# The sandbox plus JupyterLab on 127.0.0.1 with the notebooks open; Ctrl-C stops both.
lab: venv
	$(PY) -m gwsnb._lab

sandbox: venv
	$(VENV)/bin/gwsnb sandbox

lint: venv
	$(VENV)/bin/ruff check gwsnb tests benchmarks

typecheck: venv
	$(VENV)/bin/mypy gwsnb

pytest: venv peers browser
	$(VENV)/bin/pytest

test: lint typecheck pytest

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(PEERS)/node_modules build .pytest_cache .mypy_cache .ruff_cache
