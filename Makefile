# Exchange ⇄ Zendesk Sell contact sync — one entry point for set-up, tests, demo and benchmarks.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PACKAGES := exchange-mailbox contact-mapping sandboxes tap-sell tap-exchange-contacts target-sell-contacts target-exchange
STAMP := $(VENV)/.setup-stamp
PYTEST_ARGS ?=

export MELTANO_CLI_DISABLE_VERSION_CHECK := true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup test lint unit demo bench clean

# Idempotent: re-running reinstalls only what changed (pip) and refreshes the plugin venvs.
setup:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt \
		$(addprefix -e ./,$(PACKAGES))
	$(VENV)/bin/meltano install
	@touch $(STAMP)

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES)) meltano.yml
	$(MAKE) setup

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Everything, offline: lint, unit tests, sandbox conformance, SDK suites, end-to-end meltano runs.
test: $(STAMP) lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .meltano .pytest_cache .hypothesis

# The whole product on the sandboxes: seed, two-way-sync twice through Meltano, report, check.
demo: $(STAMP)
	$(PY) -m demo

# Refresh README's settings tables from each plugin's --about output.
readme: $(STAMP)
	$(PY) tools/readme_settings.py

# Every benchmark's table (not part of `make test`; ~50 min, 38 of them the 100,000-contact
# sync). BENCH_ARGS passes options to benchmarks/run_all.py, e.g.
# BENCH_ARGS="--only no-change --sizes 1000,10000" or "--readme".
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)
