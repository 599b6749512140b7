"""The tap installs and runs without the sync engine (SPEC §1: taps stay generic extractors).

Meltano builds the tap's plugin venv from its ``pip_url`` alone (``exchange-mailbox`` and the tap
into an empty venv), so that venv is the install under test. SQLAlchemy itself cannot be kept out:
singer-sdk 0.54 requires it unconditionally (its ``sql`` extra is not yet optional), so the test
pins what can hold: no contact-mapping, SQLAlchemy required by singer-sdk alone, and a tap run
that never imports SQLAlchemy or contact-mapping.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from .conftest import tap_config

pytestmark = pytest.mark.subprocess

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".meltano" / "extractors" / "tap-exchange-contacts" / "venv"
PYTHON = VENV / "bin" / "python"

# Runs the tap's CLI in the plugin venv and reports, at exit, which modules it had loaded.
RUN_AND_REPORT = """
import atexit, json, sys
atexit.register(lambda: print("MODULES " + json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "contact_mapping")
)), file=sys.stderr))
from tap_exchange_contacts.tap import TapExchangeContacts
sys.argv = ["tap-exchange-contacts", *sys.argv[1:]]
TapExchangeContacts.cli()
"""

# Every distribution in the venv that requires SQLAlchemy, and whether contact-mapping is there.
REQUIRERS = """
import json, re
from importlib import metadata
names = {d.metadata["Name"].lower() for d in metadata.distributions()}
needs = sorted({
    d.metadata["Name"].lower() for d in metadata.distributions()
    for r in d.requires or ()
    if re.match(r"sqlalchemy\\b", r, re.I) and "extra ==" not in r
})
print(json.dumps({"contact-mapping": "contact-mapping" in names, "sqlalchemy_needed_by": needs}))
"""


def plugin_python() -> Path:
    if not PYTHON.exists():
        pytest.skip(f"no plugin venv at {VENV.relative_to(ROOT)}: run `make setup` first")
    return PYTHON


def test_the_plugin_venv_holds_no_sync_engine() -> None:
    out = subprocess.run(
        [str(plugin_python()), "-c", REQUIRERS], capture_output=True, text=True, check=True
    ).stdout
    found = json.loads(out)
    assert found["contact-mapping"] is False
    assert found["sqlalchemy_needed_by"] == ["singer-sdk"]


def test_the_tap_runs_from_its_own_venv(ews, tmp_path: Path) -> None:
    python = plugin_python()
    about = subprocess.run(
        [str(python), "-c", RUN_AND_REPORT, "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(about.stdout)["name"] == "tap-exchange-contacts"

    config = tmp_path / "config.json"
    config.write_text(json.dumps(tap_config(ews, "sdk@example.com")))
    run = subprocess.run(
        [str(python), "-c", RUN_AND_REPORT, "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    messages = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    contacts = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "contacts"]
    assert contacts
    assert any(m["type"] == "STATE" for m in messages)
    loaded = next(line for line in run.stderr.splitlines() if line.startswith("MODULES "))
    assert json.loads(loaded.removeprefix("MODULES ")) == []
