# Every target sets up what it needs: a fresh checkout needs only `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PEERS  := tests/peers

.PHONY: demo test lint typecheck pytest sandbox bench bench-1m venv peers browser lab clean docs docs-check docs-picture \
        test-extra pytest-py310 pytest-py313 wheel-check mitmproxy test-stress

venv: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs when pyproject.toml changes; the stamp keeps repeated runs fast.
$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,parquet,docs]'
	touch $@

# The independent Bayeux peers (official CometD JS client, faye) live in tests/peers/node_modules (ignored).
peers: $(PEERS)/node_modules/.installed

$(PEERS)/node_modules/.installed: $(PEERS)/package.json $(PEERS)/package-lock.json
	cd $(PEERS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# mitmproxy, whose HAR export is one of the capture producers the tests read (tests/capture/test_mitmproxy.py),
# in a virtual environment of its own: its pinned dependencies need not agree with gwsnb's.
MITM_VENV := $(VENV)-mitmproxy
mitmproxy: $(MITM_VENV)/.installed

$(MITM_VENV)/.installed:
	rm -rf $(MITM_VENV) && $(PYTHON) -m venv $(MITM_VENV)
	$(MITM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MITM_VENV)/bin/python -m pip install --quiet 'mitmproxy>=11,<13'
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
	$(PY) -m gwsnb._cli.demo_report

# The sandbox plus JupyterLab on 127.0.0.1 with the notebooks open; Ctrl-C stops both.
lab: venv
	$(PY) -m gwsnb._cli.lab

sandbox: venv
	$(VENV)/bin/gwsnb sandbox

lint: venv
	$(VENV)/bin/ruff check gwsnb tests benchmarks tools

typecheck: venv
	$(VENV)/bin/mypy gwsnb

pytest: venv peers browser mitmproxy
	$(VENV)/bin/pytest

# Python 3.10 and 3.13 (the oldest supported and the newest) run the suite that needs no node peers and no
# browser, each in its own virtual environment ($(VENV)-3.10, $(VENV)-3.13). The interpreter: PYTHON310= /
# PYTHON313= if given, else pyenv's (`pyenv prefix`, then $(PYENV_ROOT)/versions/X.Y.*), else pythonX.Y on
# PATH. A version not found is skipped with a message naming it; REQUIRE_PYTHONS=1 makes that an error.
PYENV_ROOT ?= $(HOME)/.pyenv
EXTRA_PYTEST ?= -m "not node and not browser and not mitmproxy and not main_only"
# $(call find_python,X.Y,candidate): the first of candidate, pyenv's X.Y, pythonX.Y that really is X.Y.
find_python = $(shell for p in $(2) "$$(pyenv prefix $(1) 2>/dev/null | head -n 1)/bin/python$(1)" \
  $$(ls -d $(PYENV_ROOT)/versions/$(1).*/bin/python$(1) 2>/dev/null | sort -r -V) "$$(command -v python$(1))"; \
  do [ -x "$$p" ] && "$$p" -c 'import sys; sys.exit("%d.%d" % sys.version_info[:2] != "$(1)")' 2>/dev/null \
  && { echo "$$p"; break; }; done)

pytest-py310: PYVER := 3.10
pytest-py313: PYVER := 3.13
pytest-py310 pytest-py313:
	@py="$(call find_python,$(PYVER),$(PYTHON$(subst .,,$(PYVER))))"; given="$(PYTHON$(subst .,,$(PYVER)))"; \
	if [ -n "$$given" ] && [ "$$py" != "$$given" ]; then \
	  echo "*** $@: PYTHON$(subst .,,$(PYVER))=$$given is not a Python $(PYVER) interpreter"; exit 1; \
	fi; \
	if [ -z "$$py" ]; then \
	  echo "*** $@ SKIPPED: Python $(PYVER) not found (set PYTHON$(subst .,,$(PYVER))=/path/to/python$(PYVER)," \
	       "or install it with pyenv)"; \
	  exit $(if $(REQUIRE_PYTHONS),1,0); \
	fi; \
	venv=$(VENV)-$(PYVER); \
	if [ ! -f $$venv/.installed ] || [ pyproject.toml -nt $$venv/.installed ] \
	   || [ "$$(cat $$venv/.installed)" != "$$py" ]; then \
	  echo "$@: creating $$venv with $$py"; \
	  rm -rf $$venv && "$$py" -m venv $$venv && \
	  { $$venv/bin/python -m pip install --upgrade pip && $$venv/bin/python -m pip install -e '.[test,parquet]'; \
	  } > $$venv/pip.log 2>&1 || { tail -n 40 $$venv/pip.log; echo "*** $@: pip failed, see $$venv/pip.log"; exit 1; }; \
	  echo "$$py" > $$venv/.installed; \
	fi; \
	echo "$@: $$($$venv/bin/python -V) ($$py): pytest" '$(EXTRA_PYTEST)'; \
	GWSNB_RELIABILITY_TABLE=build/reliability-$(PYVER).md $$venv/bin/python -m pytest $(EXTRA_PYTEST) -p no:cacheprovider -q

# Builds the wheel, installs it into a fresh venv without extras, then with [parquet], and runs it there.
wheel-check: venv
	$(PY) tests/wheel/check_wheel.py

# The extra Pythons and the wheel check at once (outputs are not mixed).
test-extra:
	@$(MAKE) --no-print-directory -j3 --output-sync=target pytest-py310 pytest-py313 wheel-check

# ruff, mypy and the strict docs build (a few seconds) first, then the main suite, the suites on 3.10 and
# 3.13 and the wheel check at once: each suite mostly waits on sockets and timers (about half a core), so
# together they take little longer than the slowest alone. Each one's output is shown when it ends;
# TEST_JOBS=1 runs them one after the other.
TEST_JOBS ?= 4
test: lint typecheck docs-check
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target pytest pytest-py310 pytest-py313 wheel-check

# The slow reliability tests (outage, restart, resume, SIGTERM, reconnects, the 50-session load, and the
# timing-sensitive ones) STRESS_COUNT times each, the whole set over and over, while tools/busy_cores.py
# keeps every core busy (bounded: it stops by itself after STRESS_SECONDS). 0 failures expected; about
# two hours on 2 cores shared with other work (docs/testing.md); STRESS_TESTS= runs fewer.
# STRESS_TIMEOUT: pytest-timeout's hang guard per test, raised from the suite's 180 s because the busy
# cores slow every test down several times (it bounds a hang; no test asserts a duration with it).
STRESS_COUNT ?= 10
STRESS_SECONDS ?= 7200
STRESS_TIMEOUT ?= 900
STRESS_TESTS ?= tests/runs/test_outage.py tests/runs/test_outage_resend.py \
  tests/runs/test_runs.py::test_a_run_killed_with_sigkill_resumes_with_every_handle_exactly_once \
  tests/runs/test_cli_runs.py::test_out_dir_writes_a_run_and_resume_continues_it \
  tests/reliability/test_restart_batch.py tests/reliability/test_reconnect.py \
  tests/reliability/test_notifications.py::test_foreign_session_notifications \
  tests/client/test_reconnect.py tests/client/test_transport.py::test_connect_async_aclose_and_async_with \
  tests/sandbox/test_cli.py::test_cli_sandbox_serves_and_stops tests/unit/test_stop_signals.py \
  tests/sandbox/test_isolation_load.py
test-stress: venv
	@$(PY) tools/busy_cores.py --seconds $(STRESS_SECONDS) & busy=$$!; \
	trap 'kill $$busy 2>/dev/null' EXIT; \
	echo "test-stress: $(STRESS_COUNT) rounds beside a busy loop on every core (pid $$busy); load $$(cat /proc/loadavg)"; \
	start=$$(date +%s); \
	$(VENV)/bin/pytest $(STRESS_TESTS) --count $(STRESS_COUNT) --repeat-scope session --timeout $(STRESS_TIMEOUT) -p no:cacheprovider -q -rf \
	  -m "not node and not browser"; rc=$$?; \
	echo "test-stress: exit $$rc after $$(( $$(date +%s) - start )) s; load $$(cat /proc/loadavg)"; exit $$rc

# The documentation site (mkdocs.yml, docs/): `make docs` writes it to build/site. `make docs-check` is the
# strict build `make test` runs: a warning (broken link or anchor, a page left out of the nav, a docstring
# cross-reference to nothing) fails it. A few seconds.
docs: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --site-dir build/site

docs-check: venv
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site-check

# The front page's picture: a sandbox bulk run's latency plot, written to docs/assets/latency.png.
docs-picture: venv
	$(PY) tools/docs_picture.py

bench: venv
	$(PY) -m benchmarks

# A whole 1,000,000-handle list streamed by the command line, each chain once and --every-handle (about a
# quarter of an hour; not part of `make bench`).
bench-1m: venv
	$(PY) -m benchmarks.bench_1m

clean:
	rm -rf $(VENV) $(VENV)-3.10 $(VENV)-3.13 $(MITM_VENV) $(PEERS)/node_modules build .pytest_cache .mypy_cache .ruff_cache
