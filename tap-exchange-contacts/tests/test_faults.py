"""S10.2: ErrorServerBusy back-off and dropped connections are retried; the result is unchanged.
A server that stays busy ends the run within setting ``retry_max_wait`` instead of hanging."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_common.process import running_sandbox

from .conftest import account_for, private_contacts, run_tap, tap_config

pytestmark = [pytest.mark.subprocess, pytest.mark.spec("S10.2")]

ADDRESS = "faults@example.com"


def test_busy_and_dropped_answers_are_retried_to_the_same_result() -> None:
    args = [
        "--seed", "40", "--mailbox", f"{ADDRESS}:pw", "--fault-rate", "0.3",
        "--fault-kinds", "server_busy,drop_before,drop_after,slow",
        "--backoff-ms", "20", "--slow-ms", "50",
    ]  # fmt: skip
    with running_sandbox("ews-sandbox", args) as ews:
        config = tap_config(ews, ADDRESS, password="pw")
        expected = {
            c.id
            for c in private_contacts(account_for(ews, ADDRESS))
            if {"Clients", "Partners"} & set(c.categories or ()) or c.sell_link
        }
        ews.reset()
        first = run_tap(config)
        faults = ews.stats()["faults"]
        second = run_tap(config, first.state)
    assert sum(faults.values()) >= 3
    assert {"server_busy", "drop_before", "drop_after"} & set(faults)
    assert {r["id"] for r in first.records["contacts"]} == expected
    assert "contacts" not in second.records


def test_server_that_stays_busy_fails_within_retry_max_wait_instead_of_hanging(
    tmp_path: Path,
) -> None:
    # Every answer is ErrorServerBusy asking for 100 ms: exchangelib's own FaultTolerance would
    # retry for ever (each back-off is short); the subprocess timeout turns a hang into a failure.
    address, password = "stays-busy@example.com", "pw-stays-busy"
    args = ["--mailbox", f"{address}:{password}", "--fault-rate", "1.0"]
    args += ["--fault-kinds", "server_busy", "--backoff-ms", "100"]
    with running_sandbox("ews-sandbox", args) as ews:
        config = tmp_path / "config.json"
        config.write_text(json.dumps(tap_config(ews, address, password=password, retry_max_wait=2)))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "tap_exchange_contacts", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        elapsed = time.monotonic() - started
        busy = ews.stats()["faults"].get("server_busy", 0)
    assert done.returncode == 1
    assert done.stdout == ""  # not a record, not a STATE
    last_line = done.stderr.strip().splitlines()[-1]
    assert "Exchange stayed busy" in last_line
    assert "setting 'retry_max_wait' = 2 s" in last_line
    assert password not in done.stderr
    assert busy >= 5  # the back-offs were honoured until the spell ran out
    assert elapsed < 30, elapsed
