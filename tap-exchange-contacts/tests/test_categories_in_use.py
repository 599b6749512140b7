"""S1.2 amended: a selected category exists when it is in the master list OR on a private contact.

Contacts tagged by an import or another client carry categories the master list lacks; the tap
syncs them. The check reads no contact: one restricted FindItem per selected category missing
from the list, over the private folders only (a category carried only in a system or public
folder does not count). A typo still stops the run before any record, naming it.
"""

from __future__ import annotations

import logging

import pytest
from exchange_mailbox import ExchangeScopeError
from exchange_mailbox.ews import master_categories
from exchange_mailbox.ews.category_list import CategoryList
from exchangelib import Contact

from .conftest import account_for, private_contacts, run_tap, tap_config

pytestmark = pytest.mark.subprocess

ADDRESS = "inuse@example.com"


@pytest.fixture
def master_list_without_clients(ews):
    """The seeded mailbox, with "Clients" dropped from its master list (contacts keep it)."""
    account = account_for(ews, ADDRESS)
    saved = master_categories.load(account)
    edited = CategoryList.parse(saved.to_bytes())
    edited.root.remove(edited.find("Clients"))
    master_categories.save(account, edited, exists=True)
    yield account
    master_categories.save(account, saved, exists=True)


def _reads(ews) -> dict[str, int]:
    return ews.stats()["reads"]


@pytest.mark.spec("S1.2")
def test_category_on_contacts_but_not_in_the_master_list_is_synced(
    ews, master_list_without_clients, caplog
) -> None:
    account = master_list_without_clients
    assert "Clients" not in master_categories.load(account).names()
    expected = {
        c.id for c in private_contacts(account) if "Clients" in (c.categories or ()) or c.sell_link
    }
    assert expected

    caplog.set_level(logging.INFO)
    ews.reset()
    run = run_tap(tap_config(ews, ADDRESS, categories=["Clients"]))
    checked = _reads(ews)

    assert {r["id"] for r in run.records["contacts"]} == expected
    assert "missing from the master category list: Clients" in caplog.text

    # The price of the check: one FindItem, against the same run with "Clients" listed.
    master_categories.save(account, CategoryList.parse(_with_clients(account)), exists=True)
    ews.reset()
    listed = run_tap(tap_config(ews, ADDRESS, categories=["Clients"]))
    baseline = _reads(ews)
    assert {r["id"] for r in listed.records["contacts"]} == expected
    assert checked.get("FindItem", 0) - baseline.get("FindItem", 0) == 1
    assert {k: v for k, v in checked.items() if k != "FindItem"} == {
        k: v for k, v in baseline.items() if k != "FindItem"
    }


def _with_clients(account) -> bytes:
    category_list = master_categories.load(account)
    category_list.add("Clients", color=7)
    return category_list.to_bytes()


@pytest.mark.spec("S1.2")
def test_typo_and_category_carried_outside_the_private_folders_stop_before_any_record(
    ews, master_list_without_clients, capsys
) -> None:
    account = master_list_without_clients
    recipient_cache = next(f for f in account.contacts.children if f.name == "Recipient Cache")
    Contact(folder=recipient_cache, display_name="Cached", categories=["Imported"]).save()

    ews.reset()
    with pytest.raises(ExchangeScopeError) as info:
        run_tap(tap_config(ews, ADDRESS, categories=["Clients", "Clinets", "Imported"]))
    reads = _reads(ews)

    message = str(info.value)
    assert info.value.setting == "categories"
    assert "'Clinets', 'Imported'" in message
    existing = message.split("Existing: ")[1].rstrip(".").split(", ")
    assert {"Clients", "Partners", "VIP"} <= set(existing)  # Clients: carried by contacts
    assert "Imported" not in existing
    assert capsys.readouterr().out == ""
    # One FindItem per name missing from the master list; no contact read, nothing written.
    assert reads.get("FindItem") == 3
    assert "SyncFolderItems" not in reads
    assert "GetItem" not in reads
    assert ews.stats()["total_writes"] == 0
