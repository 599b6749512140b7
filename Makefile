# Exchange ⇄ Zendesk Sell contact sync — one entry point for set-up, tests, demo and benchmarks.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
PACKAGES := exchange-mailbox contact-mapping sandboxes tap-sell tap-exchange-contacts target-sell-contacts target-exchange
# Type-checked by `make lint` (settings: [tool.mypy] in pyproject.toml).
TYPED := contact-mapping exchange-mailbox tap-sell
# Our packages' import directories (the plugin and orchestration venvs install them editable, so
# their bytecode lives beside the sources).
PLUGIN_SOURCES := contact-mapping/contact_mapping exchange-mailbox/exchange_mailbox \
	tap-sell/tap_sell tap-exchange-contacts/tap_exchange_contacts \
	target-sell-contacts/target_sell_contacts target-exchange/target_exchange
STAMP := $(VENV)/.setup-stamp
ORCH_VENV := orchestration/.venv
ORCH_STAMP := $(ORCH_VENV)/.setup-stamp
PYTEST_ARGS ?=
N ?= 20
PROTOCOL ?= ews

export MELTANO_CLI_DISABLE_VERSION_CHECK := true
export MELTANO_SEND_ANONYMOUS_USAGE_STATS := false
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup orchestration-setup test lint unit demo bench clean orchestrate catalogs readme

# Idempotent: re-running reinstalls only what changed (pip) and refreshes the plugin venvs.
setup:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -r requirements-dev.txt \
		$(addprefix -e ./,$(PACKAGES))
	$(VENV)/bin/meltano install
	@# The plugin venvs come without bytecode, and our own packages (installed editable) have
	@# none beside their sources where PYTHONDONTWRITEBYTECODE is set; compiling it once here
	@# spares every run the recompilation of its imports (~2.5 CPU-s of a quiet two-way cycle,
	@# see benchmarks/).
	$(PY) -m compileall -q -j 0 .meltano/extractors .meltano/loaders $(PLUGIN_SOURCES) > /dev/null
	$(MAKE) orchestration-setup
	@touch $(STAMP)

# Dagster and Celery in their own virtualenv: their dependencies never meet Meltano's.
orchestration-setup:
	@test -x $(ORCH_VENV)/bin/python || $(PYTHON) -m venv $(ORCH_VENV)
	$(ORCH_VENV)/bin/python -m pip install -q --disable-pip-version-check \
		-c orchestration/constraints.txt -e './orchestration[test]'
	$(ORCH_VENV)/bin/python -m compileall -q -j 0 orchestration/contact_sync_orchestration > /dev/null
	@touch $(ORCH_STAMP)

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES)) meltano.yml \
		orchestration/pyproject.toml orchestration/constraints.txt
	$(MAKE) setup

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# One package at a time: each has a tests/conftest.py, which mypy cannot hold twice in one run.
	for package in $(TYPED); do $(VENV)/bin/mypy $$package || exit 1; done

# Everything, offline: lint, unit tests, sandbox conformance, SDK suites, end-to-end meltano runs.
test: $(STAMP) lint
	$(ORCH_VENV)/bin/pytest orchestration/tests -q -p no:cacheprovider
	$(VENV)/bin/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The fast in-memory tests (~300, well under a minute): none marked e2e, slow, postgres or
# subprocess, and one that starts a process anyway fails (conftest.py, --unit). pytest's exit 5
# (nothing selected) fails too, saying so.
unit: $(STAMP)
	@$(VENV)/bin/pytest --unit -n 2 -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make unit: no test selected (pytest exit 5)" >&2; fi; \
	exit $$status

clean:
	rm -rf $(VENV) $(ORCH_VENV) .meltano .pytest_cache .hypothesis

# The whole product on the sandboxes: seed, two-way-sync twice through Meltano, report, check.
# PROTOCOL=graph: the Exchange plugins reach the mailbox over Microsoft Graph (TLS, msal tokens).
demo: $(STAMP)
	$(PY) -m demo --protocol $(PROTOCOL)

# Refresh the taps' catalogs of the prod environment (discovery + select; see tools/prod_catalogs.py).
catalogs: $(STAMP)
	$(PY) tools/prod_catalogs.py

# Refresh README's settings tables (each plugin's --about) and its list of SPEC rules with the
# tests that pin each one (@pytest.mark.spec).
readme: $(STAMP)
	$(PY) tools/readme_settings.py
	$(PY) tools/readme_rules.py

# Every benchmark's table (not part of `make test`; ~50 min, 38 of them the 100,000-contact
# sync). BENCH_ARGS passes options to benchmarks/run_all.py, e.g.
# BENCH_ARGS="--only no-change --sizes 1000,10000" or "--readme".
bench: $(STAMP)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

# The many-tenant stack on this machine: PostgreSQL databases, Dagster webserver and daemon,
# 2 Celery workers, a sell-sandbox and an exchange-sandbox with N sandbox tenants registered.
# Prints the UI address; Ctrl-C stops everything it started.
orchestrate: $(STAMP)
	$(ORCH_VENV)/bin/contact-sync-stack up --tenants $(N)
