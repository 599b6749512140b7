"""S10.2: ErrorServerBusy back-off and dropped connections are retried; the result is unchanged."""

from __future__ import annotations

from sandbox_common.process import running_sandbox

from .conftest import account_for, private_contacts, run_tap, tap_config

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
