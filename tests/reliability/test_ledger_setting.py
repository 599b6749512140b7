"""S10.3 and S11 for the one setting both targets share: a ``ledger_url`` that cannot be opened.

Each target, run as its console script on real tap output, must stop before any write with a
message naming ``ledger_url`` and without the password the URL carries.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import PASSWORD, make_token
from tests.reliability.plugins import BIN, capture, tap_config, target_config

pytestmark = [pytest.mark.e2e, pytest.mark.spec("S10.3", "S11")]

MAILBOX = "ledger@setting.example"
LEDGER_PASSWORD = "Ledger-Canary-pw-91c2"  # a test canary, not a secret
# Nothing listens on port 1: the server is unreachable, as with a wrong host or a firewall.
BAD_LEDGER = f"postgresql+psycopg://sync:{LEDGER_PASSWORD}@127.0.0.1:1/ledger?connect_timeout=2"
PAIRS = {"target-sell-contacts": "tap-exchange-contacts", "target-exchange": "tap-sell"}


def _messages(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("target", list(PAIRS))
def test_unopenable_ledger_stops_the_target_before_any_write(target, sandboxes_factory, tmp_path):
    token = make_token("ledger setting")
    sell, ews = sandboxes_factory(
        ["--rate-limit", "0", "--seed", "10", "--token", token],
        ["--seed", "10", "--mailbox", f"{MAILBOX}:{PASSWORD}"],
    )
    tap = PAIRS[target]
    records = capture(tap, tap_config(tap, sell, ews, token, MAILBOX), tmp_path / f"{tap}.jsonl")
    assert any(m["type"] == "RECORD" for m in _messages(records.read_text())), "nothing to write"
    config = target_config(target, sell, ews, token, MAILBOX, tmp_path)
    config["ledger_url"] = BAD_LEDGER
    cfg = tmp_path / f"{target}.config.json"
    cfg.write_text(json.dumps(config))
    sell.reset()
    ews.reset()

    with records.open() as stdin:
        done = subprocess.run(
            [str(BIN / target), "--config", str(cfg)],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert done.returncode == 1, done.stderr[-3000:]
    assert "ledger_url: cannot open the sync ledger (OperationalError" in done.stderr
    assert "Traceback" not in done.stderr  # a configuration message, not a crash
    assert LEDGER_PASSWORD not in done.stderr + done.stdout
    assert not [m for m in _messages(done.stdout) if m["type"] == "STATE"]
    assert sell.stats()["total_writes"] == 0
    assert ews.stats()["total_writes"] == 0
