"""S7.2 across the two directions: a late replay of the version the other target replaced.

Singer is at-least-once and the two directions may overlap (one tap read a record, the other
target then wrote to it, and only then does the first batch reach its target). The record that
arrives is older than what the ledger knows, but not by its time: target-exchange records the
LastModifiedTime of the item it fetched before writing (the write answer carries no time), and
Sell stamps whole seconds. Undetected, the replay looks like a user edit made in Exchange (or
Sell) and undoes the other side's change on both systems.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sell_sandbox.client import SellSandboxClient

from tests.conftest import PASSWORD, make_token
from tests.reliability.end_state import exchange_contacts
from tests.reliability.plugins import TargetRunner, capture, tap_config, target_config
from tests.reliability.seeding import create_exchange

pytestmark = [pytest.mark.e2e, pytest.mark.spec("S7.2")]

MAILBOX = "late@replay.example"


def _run(plugin: str, config: dict, singer: Path, workdir: Path) -> dict:
    workdir.mkdir()
    runner = TargetRunner(plugin, config, singer, workdir)
    assert runner.run().returncode == 0, runner.stderr_tail()
    return json.loads(Path(config["report_path"]).read_text())


def test_replay_of_the_exchange_version_target_exchange_replaced_changes_nothing(
    sandboxes_factory, tmp_path
) -> None:
    token = make_token("late-replay")
    sell, ews = sandboxes_factory(
        ["--rate-limit", "0", "--token", token],
        ["--seed", "0", "--mailbox", f"{MAILBOX}:{PASSWORD}"],
    )
    [item_id] = create_exchange(
        ews,
        MAILBOX,
        [
            {
                "given_name": "Ray",
                "surname": "Replay",
                "email": "ray@replay.example",
                "job_title": "Old title",
                "categories": ["Clients"],
            }
        ],
    )
    sell_api = SellSandboxClient(sell.base_url, token)
    exchange_tap = tap_config("tap-exchange-contacts", sell, ews, token, MAILBOX)
    to_sell = target_config("target-sell-contacts", sell, ews, token, MAILBOX, tmp_path)
    to_exchange = target_config("target-exchange", sell, ews, token, MAILBOX, tmp_path)

    first = capture("tap-exchange-contacts", exchange_tap, tmp_path / "exchange-1.singer")
    _run("target-sell-contacts", to_sell, first, tmp_path / "link")
    [ray] = sell_api.all("contacts")
    assert ray["title"] == "Old title"
    # The item as a tap reads it now, before target-exchange writes to it: the late batch.
    late = capture("tap-exchange-contacts", exchange_tap, tmp_path / "exchange-2.singer")

    # The salesperson edits Sell; the Sell → Exchange direction carries it to Exchange.
    sell_api.update("contacts", ray["id"], title="New title")
    sell_singer = capture(
        "tap-sell", tap_config("tap-sell", sell, ews, token, MAILBOX), tmp_path / "sell.singer"
    )
    _run("target-exchange", to_exchange, sell_singer, tmp_path / "to-exchange")
    [item] = exchange_contacts(ews, MAILBOX)
    assert (item["id"], item["job_title"]) == (item_id, "New title")

    # The late batch reaches target-sell-contacts: it must not undo the change.
    sell_writes = sell_api.writes()
    report = _run("target-sell-contacts", to_sell, late, tmp_path / "replay")
    [ray_now] = sell_api.all("contacts")
    assert ray_now["title"] == "New title", report
    assert sell_api.writes() == sell_writes, "a replay must not write to Sell"
    # ... and the next Sell → Exchange run has nothing to undo either.
    again = capture(
        "tap-sell", tap_config("tap-sell", sell, ews, token, MAILBOX), tmp_path / "sell-2.singer"
    )
    _run("target-exchange", to_exchange, again, tmp_path / "to-exchange-2")
    [item] = exchange_contacts(ews, MAILBOX)
    assert item["job_title"] == "New title"
