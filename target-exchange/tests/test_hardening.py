"""Hardening: the S5.2 queue for Sell, change-key conflicts between read and write, and a busy
answer for one item inside a CreateItem batch (in-process, against ews-sandbox)."""

from __future__ import annotations

import pytest
from contact_mapping.ledger import Ledger
from contact_mapping.ledger.testing import begin_intent
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.connection import disconnect
from exchange_mailbox.ews.writer import EwsWriter
from exchangelib import Contact
from exchangelib.protocol import BaseProtocol
from exchangelib.services.common import EWSService
from exchangelib.util import MNS
from target_exchange.destination import ExchangeDestination

from .conftest import person

pytestmark = pytest.mark.subprocess

T2 = "2025-02-01T10:00:00Z"
FUTURE = "2099-01-01T00:00:00Z"


def ledger(env) -> Ledger:
    return Ledger(env.config()["ledger_url"], "t1")


def edit_in_exchange(env, name: str, **fields) -> None:
    """What the user does in Outlook: change fields of a contact (its own connection)."""
    account = env.account()
    try:
        [item] = [c for c in env.contacts() if c.display_name == name]
        item.account = account
        for key, value in fields.items():
            setattr(item, key, value)
        item.save(update_fields=list(fields))
    finally:
        disconnect(account)


def only(env) -> Contact:
    [item] = env.contacts()
    return item


# -- S5.2: values that lost a conflict here are queued for Sell -----------------------------------
@pytest.mark.spec("S5.2")
def test_lost_values_are_queued_for_sell_with_time_and_origin(env):
    env.run({"contacts": [person(1)]})
    edit_in_exchange(env, "First1 Last1", job_title="Exchange Title")
    exchange_time = only(env).last_modified_time
    # Sell changed the same field later: Sell wins, the Exchange value is queued for Sell.
    env.run({"contacts": [person(1, title="Sell Title", updated_at=FUTURE)]})
    assert only(env).job_title == "Sell Title"
    with ledger(env) as led:
        [lost] = led.pending_overwritten()
        assert (lost.sell_ref, lost.field, lost.value, lost.origin) == (
            "contact:1",
            "title",
            "Exchange Title",
            "exchange",
        )
        assert lost.origin_time is not None
        assert lost.origin_time[:19] == exchange_time.strftime("%Y-%m-%dT%H:%M:%S")
        assert lost.exchange_id == only(env).id
        led.mark_overwritten_delivered([lost.id])
    # A replay decides nothing again and queues nothing.
    env.run({"contacts": [person(1, title="Sell Title", updated_at=FUTURE)]})
    # A later conflict queues only its own losing value (the delivered row stays delivered).
    edit_in_exchange(env, "First1 Last1", job_title="Exchange Again")
    env.run({"contacts": [person(1, title="Sell Again", updated_at="2099-01-02T00:00:00Z")]})
    with ledger(env) as led:
        queued = [(p.field, p.value, p.origin) for p in led.pending_overwritten()]
    assert queued == [("title", "Exchange Again", "exchange")]


@pytest.mark.spec("S5.2")
def test_sell_value_that_loses_to_a_newer_exchange_edit_is_queued(env):
    env.run({"contacts": [person(1)]})
    edit_in_exchange(env, "First1 Last1", job_title="Exchange Title")  # now, after T2
    report = env.run({"contacts": [person(1, title="Sell Title", updated_at=T2)]})
    assert only(env).job_title == "Exchange Title"
    assert report["conflicts"][0]["kept_origin"] == "exchange"
    with ledger(env) as led:
        assert [(p.field, p.value, p.origin) for p in led.pending_overwritten()] == [
            ("title", "Sell Title", "sell")
        ]


# -- change keys: an edit between our read and our write ------------------------------------------
@pytest.fixture
def edit_before_first_update(env, monkeypatch):
    """A second writer (the user in Outlook) edits the item after the target read it and before
    its UpdateItem: the target's change key is stale when it writes."""
    calls: list[int] = []
    edits: dict = {}
    original = EwsWriter.update

    def update(self, items):
        if not calls and edits:
            edit_in_exchange(env, "First1 Last1", **edits)
        calls.append(len(items))
        return original(self, items)

    monkeypatch.setattr(EwsWriter, "update", update)
    return edits, calls


@pytest.mark.spec("S5.1")
def test_edit_between_read_and_write_is_re_read_and_merged_not_overwritten(
    env, edit_before_first_update
):
    edits, calls = edit_before_first_update
    env.run({"contacts": [person(1)]})
    edits["job_title"] = "Edited Meanwhile"
    report = env.run({"contacts": [person(1, email="new1@example.org", updated_at=T2)]})
    assert len(calls) == 2  # the write, refused on its stale change key; then the re-merged one
    item = only(env)
    assert item.job_title == "Edited Meanwhile"  # the user's edit survived
    assert item.email_addresses[0].email == "new1@example.org"
    assert report["streams"]["contacts"]["updated"] == 1
    assert report["conflicts"] == []
    # The snapshot records the merged state: the next replay writes nothing.
    env.ews.reset()
    env.run({"contacts": [person(1, email="new1@example.org", updated_at=T2)]})
    assert env.ews.stats()["by_tenant"].get(env.mailbox, {}).get("total_writes", 0) == 0


@pytest.mark.spec("S5.2")
def test_same_field_edited_between_read_and_write_becomes_a_conflict(env, edit_before_first_update):
    edits, calls = edit_before_first_update
    env.run({"contacts": [person(1)]})
    edits["job_title"] = "Edited Meanwhile"  # newer than Sell's T2: Exchange wins on re-merge
    report = env.run({"contacts": [person(1, title="Sell Title", updated_at=T2)]})
    # One UpdateItem, refused on its stale change key; the re-merge found nothing left to write.
    assert calls == [1]
    assert only(env).job_title == "Edited Meanwhile"
    [conflict] = report["conflicts"]
    assert (conflict["kept"], conflict["overwritten"]) == ("Edited Meanwhile", "Sell Title")
    with ledger(env) as led:
        assert [p.value for p in led.pending_overwritten()] == ["Sell Title"]


# -- ErrorServerBusy for ONE item inside a CreateItem batch --------------------------------------
class BusyOneCreate:
    """Turns the answer for the ``nth`` item of the first CreateItem into ``ErrorServerBusy``
    (ResponseClass Error), as Exchange does under load; the server applied the rest."""

    def __init__(self, nth: int) -> None:
        self.nth = nth
        self.seen = 0
        self.busy_ids: list[str] = []

    def install(self, monkeypatch) -> None:
        original = EWSService._get_element_container

        def container(service, message, name=None):
            if service.SERVICE_NAME == "CreateItem":
                self.seen += 1
                if self.seen == self.nth:
                    item_id = message.find(f".//{{{_TNS}}}ItemId")
                    self.busy_ids.append(item_id.get("Id") if item_id is not None else "")
                    message.set("ResponseClass", "Error")
                    message.find(f"{{{MNS}}}ResponseCode").text = "ErrorServerBusy"
            return original(service, message, name)

        monkeypatch.setattr(EWSService, "_get_element_container", container)
        monkeypatch.setattr(BaseProtocol, "RETRY_WAIT", 0.05)  # exchangelib's own re-send wait
        monkeypatch.setattr(ExchangeDestination, "busy_wait", 0.05)


_TNS = "http://schemas.microsoft.com/exchange/services/2006/types"


@pytest.mark.spec("S7.2")
def test_busy_item_makes_plain_bulk_create_duplicate_the_batch(env, monkeypatch):
    """The risk itself: exchangelib re-sends the whole CreateItem after a per-item busy."""
    BusyOneCreate(nth=3).install(monkeypatch)
    account = env.account()
    try:
        items = [
            Contact(account=account, given_name=f"G{i}", surname="S", display_name=f"G{i} S")
            for i in range(5)
        ]
        account.bulk_create(folder=account.contacts, items=items)
    finally:
        disconnect(account)
    assert len(env.contacts()) > 5


@pytest.mark.spec("S7.2", "S10.2")
@pytest.mark.parametrize("created_anyway", [True, False], ids=["applied", "not-applied"])
def test_busy_item_inside_create_batch_leaves_one_item_per_record(env, monkeypatch, created_anyway):
    busy = BusyOneCreate(nth=42)
    busy.install(monkeypatch)
    if not created_anyway:
        # The server did NOT create the busy item: it must be sent again, alone.
        original = EwsWriter.create

        def create(self, folder, items):
            out = original(self, folder, items)
            gone = [(i, None) for i in busy.busy_ids]
            if gone:
                self.account.bulk_delete(ids=gone)
                busy.busy_ids.clear()
            return out

        monkeypatch.setattr(EwsWriter, "create", create)
    records = [person(i) for i in range(1, 151)]
    env.ews.reset()
    report = env.run({"contacts": records})
    contacts = env.contacts()
    links = sorted(getattr(c, link_property.FIELD_NAME) for c in contacts)
    assert links == sorted(f"contact:{i}" for i in range(1, 151))
    assert report["streams"]["contacts"]["created"] == 150
    creates = env.ews.stats()["by_tenant"][env.mailbox]["writes"]["CreateItem"]
    assert creates == (2 if created_anyway else 3)  # only the missing item is sent again
    with ledger(env) as led:
        assert led.pending_intents("sell_to_exchange") == []
        assert len(led.active_links()) == 150


@pytest.mark.spec("S7.2")
def test_extra_copies_of_a_half_done_create_are_deleted_on_resolution(env):
    """A crashed run whose create was sent twice left two items carrying one Sell link."""
    account = env.account()
    try:
        copies = []
        for _ in range(2):
            item = Contact(
                account=account,
                folder=account.contacts,
                given_name="First5",
                display_name="First5",
            )
            setattr(item, link_property.FIELD_NAME, "contact:5")
            copies.append(item)
        account.bulk_create(folder=account.contacts, items=copies)
    finally:
        disconnect(account)
    with ledger(env) as led:
        begin_intent(led, "sell_to_exchange", "contact:5", {"first_name": "First5"})
    report = env.run({"contacts": [person(5)]})
    contacts = env.contacts()
    assert [getattr(c, link_property.FIELD_NAME) for c in contacts] == ["contact:5"]
    assert report["streams"]["contacts"]["created"] == 0
    with ledger(env) as led:
        [link] = led.active_links()
        assert link.exchange_id == contacts[0].id


# -- characters XML 1.0 cannot carry ---------------------------------------------------------------
@pytest.mark.spec("S10.1")
def test_xml_illegal_control_characters_are_rejected_with_a_reason_not_altered(env):
    """exchangelib would send BEL/VT as '?': silently altered. Rejected instead (S10.1), and
    written once the record is clean; tabs and newlines travel as they are."""
    report = env.run(
        {
            "contacts": [
                person(1, first_name="Bell\x07"),
                person(2, description="Line\x0bVT"),
                person(3, first_name="Tab\tok", description="two\nlines"),
            ]
        }
    )
    reasons = {r["record_id"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == {"contact:1", "contact:2"}
    assert "given_name" in reasons["contact:1"]
    assert "'\\x07'" in reasons["contact:1"]
    assert "body" in reasons["contact:2"]
    [item] = env.contacts()
    assert item.given_name == "Tab\tok"
    assert item.body == "two\nlines"
    report = env.run({"contacts": [person(1, first_name="Bell", updated_at=T2)]})
    assert report["streams"]["contacts"]["created"] == 1


def test_matching_index_takes_the_mailbox_a_batch_at_a_time():
    """The index must not hold the whole mailbox at once (757 MB at 100,000 contacts when it
    did): records are pulled and looked up in the ledger a batch at a time."""
    from target_exchange.mailbox_index import INDEX_BATCH, MailboxIndex

    pulled = 0
    looked_up: list[tuple[int, int]] = []  # (items pulled so far, batch size) per ledger call

    def items():
        nonlocal pulled
        for i in range(INDEX_BATCH * 2 + 5):
            pulled += 1
            yield {"id": f"AAMk{i}", "given_name": "P", "surname": f"S{i}", "sell_link": None}

    def linked_ids(ids: list[str]) -> set[str]:
        looked_up.append((pulled, len(ids)))
        return {"AAMk0"}

    index = MailboxIndex.from_records(items(), linked_ids, "US")
    assert index.size == INDEX_BATCH * 2 + 5
    assert len(index.matches) == index.size - 1  # the linked one is not offered
    # (items pulled when the ledger was asked, batch size): never the whole mailbox at once
    assert looked_up == [
        (INDEX_BATCH, INDEX_BATCH),
        (INDEX_BATCH * 2, INDEX_BATCH),
        (INDEX_BATCH * 2 + 5, 5),
    ]
