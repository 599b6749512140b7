"""What a quiet run (nothing to sync) does not import, each import costing a target ~0.1-0.15
CPU-seconds (README table 8b): Alembic, with the Mako and Pygments it pulls in, when the ledger's
schema is current (``schema_version``); phonenumbers and email-validator (with dnspython) before
the first value is normalised. Checked in a fresh interpreter, since this test process imports
them itself; the second case of each shows the check can fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from contact_mapping.ledger import Ledger, migrate, schema_version

LAZY = ("alembic", "mako", "pygments", "phonenumbers", "email_validator", "dns")
# argv: a ledger URL, then "normalize" to normalise a phone and an e-mail address as well.
RUN_THEN_MODULES = f"""
import json, sys
import contact_mapping
from contact_mapping.ledger import Ledger
from contact_mapping.normalize import email_problem, normalize_phone
Ledger(sys.argv[1], "acme").close()
if sys.argv[2:] == ["normalize"]:
    normalize_phone("+1 212 555 0100"), email_problem("ann@example.com")
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({LAZY!r}))))
"""


def loaded_after(*argv: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", RUN_THEN_MODULES, *argv], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def test_head_is_the_newest_revision_of_the_migrations() -> None:
    assert migrate.head() == schema_version.HEAD


@pytest.mark.subprocess
def test_a_quiet_run_imports_none_of_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url, "acme").close()  # made and brought to HEAD here
    assert loaded_after(url) == []


@pytest.mark.subprocess
def test_a_new_ledger_runs_alembic_and_normalising_loads_its_libraries(tmp_path: Path) -> None:
    loaded = loaded_after(f"sqlite:///{tmp_path / 'ledger.db'}", "normalize")
    assert {"alembic", "phonenumbers", "email_validator"} <= set(loaded)
