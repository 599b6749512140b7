"""S5.2 across the two targets: a conflict target-exchange decides for Sell keeps the Exchange
value in Sell after the next target-sell-contacts run — in the custom field, or a note without it.

Both sandboxes, the taps as console scripts (their Singer output captured), target-exchange as a
console script and target-sell-contacts in-process. Delivery is at-least-once: a row delivered
again (a crash between the write and the ledger's mark) adds no second line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import exchangelib
import pytest
from contact_mapping.ledger import Ledger, OverwrittenValue
from contact_mapping.ledger.testing import enqueue_overwritten
from ews_sandbox.testing import account, exchange_settings
from exchangelib.indexed_properties import EmailAddress
from sandbox_common.process import running_sandbox
from sandbox_common.tap_output import capture_tap

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("overwritten"), pytest.mark.spec("S5.2")]

MAILBOX = "kept@overwritten.example"
PASSWORD = "overwritten-mailbox-password"  # sandbox credentials made up for the test
TOKEN = "ov" + "w" * 62
FIELD = "Overwritten values"


def _run_target_exchange(config: dict, singer: Path, workdir: Path) -> dict:
    cfg = workdir / "target-exchange.config.json"
    cfg.write_text(json.dumps(config))
    exe = str(Path(sys.executable).with_name("target-exchange"))
    with singer.open("rb") as stdin:
        done = subprocess.run(
            [exe, "--config", str(cfg)], stdin=stdin, capture_output=True, timeout=300, check=False
        )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return json.loads(Path(config["report_path"]).read_text())


def _create_exchange_contact(ews) -> str:
    """Kim Kept, a Clients contact of the mailbox, saved the way Outlook's user would."""
    mailbox = account(ews, MAILBOX, PASSWORD)
    kim = exchangelib.Contact(
        account=mailbox, folder=mailbox.contacts, given_name="Kim", surname="Kept",
        display_name="Kim Kept", job_title="Engineer", categories=["Clients"],
        email_addresses=[EmailAddress(label="EmailAddress1", email="kim@kept.example")],
    )  # fmt: skip
    try:
        kim.save()
        return kim.id
    finally:
        exchangelib.close_connections()  # the sandbox ends with the test; so do its sessions


def _set_exchange_title(ews, item_id: str, title: str) -> None:
    try:
        item = next(iter(account(ews, MAILBOX, PASSWORD).fetch(ids=[(item_id, None)])))
        item.job_title = title
        item.save(update_fields=["job_title"])
    finally:
        exchangelib.close_connections()


def _kept_text(api, sell_id: int, with_field: bool) -> str:
    if with_field:
        return api.get("contacts", sell_id)["custom_fields"].get(FIELD) or ""
    notes = api.all("notes", resource_type="contact", resource_id=sell_id)
    return "\n".join(n["content"] for n in notes)


@pytest.mark.parametrize("with_field", [True, False], ids=["custom_field", "note"])
def test_exchange_value_that_lost_in_target_exchange_is_kept_in_sell(
    with_field, tmp_path, tenant_factory, wait_past
):
    sell_args = ["--rate-limit", "0", "--token", TOKEN]
    if not with_field:
        sell_args.append("--no-custom-fields")
    ews_args = ["--seed", "0", "--mailbox", f"{MAILBOX}:{PASSWORD}"]
    with (
        running_sandbox("sell-sandbox", sell_args) as sell,
        running_sandbox("ews-sandbox", ews_args) as ews,
    ):
        extra = {"overwritten_values_field": FIELD} if with_field else {}
        tenant = tenant_factory(sell, TOKEN, tmp_path, **extra)
        ex_config = {
            **exchange_settings(ews, MAILBOX, PASSWORD),
            "ledger_url": tenant.config["ledger_url"],
            "tenant": tenant.config["tenant"],
            "report_path": str(tmp_path / "target-exchange.report.json"),
        }
        item_id = _create_exchange_contact(ews)
        exchange_tap = {
            **exchange_settings(ews, MAILBOX, PASSWORD),
            "categories": ["Clients", "Partners"],
        }
        sell_tap = {"api_url": sell.base_url, "api_token": TOKEN, "requests_per_second": 0}

        def exchange_input(name: str) -> str:
            out = tmp_path / name
            return capture_tap("tap-exchange-contacts", exchange_tap, out, {"contacts"}).read_text()

        def sell_input(name: str) -> Path:
            return capture_tap("tap-sell", sell_tap, tmp_path / name, {"contacts", "leads"})

        first = tenant.run(exchange_input("exchange-1.singer"))
        assert first.count("created") == 1
        [person] = tenant.api.people()
        # Both sides edit the title; Sell's edit is the later one and wins in target-exchange.
        _set_exchange_title(ews, item_id, "Exchange Title")
        wait_past(person["updated_at"])
        edited = tenant.api.update("contacts", person["id"], title="Sell Title")
        wait_past(edited["updated_at"])
        report = _run_target_exchange(ex_config, sell_input("sell-1.singer"), tmp_path)
        [conflict] = report["conflicts"]
        assert (conflict["field"], conflict["kept"], conflict["overwritten"]) == (
            "title",
            "Sell Title",
            "Exchange Title",
        )
        ledger = Ledger(tenant.config["ledger_url"], tenant.config["tenant"])
        try:
            [queued] = ledger.pending_overwritten()
            assert queued.sell_id == person["id"]
            assert _kept_text(tenant.api, person["id"], with_field) == ""

            second = tenant.run(exchange_input("exchange-2.singer"))
            assert ledger.pending_overwritten() == []
            text = _kept_text(tenant.api, person["id"], with_field)
            line = queued.as_overwritten().line()
            assert 'title: "Exchange Title"' in line
            assert text.count(line) == 1
            assert tenant.api.get("contacts", person["id"])["title"] == "Sell Title"
            [kept] = second.report["overwritten_delivered"]
            assert (kept["sell"], kept["value"], kept["origin"]) == (
                f"contact:{person['id']}",
                "Exchange Title",
                "exchange",
            )
            assert kept["kept_in"] == (FIELD if with_field else "note")

            # Delivered again (as after a crash before the ledger's mark): no second line.
            enqueue_overwritten(
                ledger,
                [
                    OverwrittenValue(
                        "contact", person["id"], queued.field, queued.value, queued.origin,
                        queued.origin_time, queued.exchange_id,
                    )
                ],
            )  # fmt: skip
            tenant.sandbox.reset()
            third = tenant.run(exchange_input("exchange-3.singer"))
            assert ledger.pending_overwritten() == []
            assert _kept_text(tenant.api, person["id"], with_field).count(line) == 1
            assert len(third.report["overwritten_delivered"]) == 1
            assert tenant.api.writes() == {}
        finally:
            ledger.close()


def test_values_of_a_sell_record_that_is_gone_are_marked_delivered(tenant, make_record):
    run = tenant.run(
        [make_record(given_name="Gone", surname="Soon", email_address_1="g@x.example")]
    )
    assert run.count("created") == 1
    [person] = tenant.api.people()
    tenant.api.delete("contacts", person["id"])
    ledger = Ledger(tenant.config["ledger_url"], tenant.config["tenant"])
    try:
        enqueue_overwritten(
            ledger, [OverwrittenValue("contact", person["id"], "title", "X", "sell")]
        )
        again = tenant.run([])
        assert ledger.pending_overwritten() == []
        [kept] = again.report["overwritten_delivered"]
        assert kept["kept_in"] == "nothing (record gone)"
    finally:
        ledger.close()
