"""S1 scope: private folders only, distribution lists skipped, selected categories + linked."""

from __future__ import annotations

import pytest
from exchange_mailbox.ews import contact_reader
from exchangelib import Contact

from .conftest import (
    OAUTH_TOKEN,
    PRIVATE_FOLDERS,
    account_for,
    private_contacts,
    run_tap,
    tap_config,
)

pytestmark = pytest.mark.subprocess

ADDRESS = "scope@example.com"


@pytest.mark.spec("S1.1", "S1.2")
def test_only_selected_categories_and_linked_contacts_from_private_folders(ews) -> None:
    account = account_for(ews, ADDRESS)
    partners = next(f for f in account.contacts.children if f.name == "Partners")
    linked = Contact(
        folder=partners, display_name="Linked Only", given_name="Linked", sell_link="lead:45"
    )
    linked.save()
    vip_only = Contact(
        folder=account.contacts, display_name="Vip Only", categories=["VIP"], given_name="Vip"
    )
    vip_only.save()
    config = tap_config(ews, ADDRESS, categories=["clients"])  # names match case-insensitively
    expected = {
        c.id for c in private_contacts(account) if "Clients" in (c.categories or ()) or c.sell_link
    }

    ews.reset()
    run = run_tap(config)
    stats = ews.stats()

    contacts = run.records["contacts"]
    assert {r["id"] for r in contacts} == expected
    assert linked.id in expected
    assert vip_only.id not in expected
    by_id = {r["id"]: r for r in contacts}
    assert by_id[linked.id]["sell_link"] == "lead:45"
    assert by_id[linked.id]["folder_path"] == "Contacts/Partners"
    assert all(r["folder_path"] in PRIVATE_FOLDERS for r in contacts)
    assert not [r for r in contacts if (r["display_name"] or "").startswith("Team list")]
    # System and public folders were never asked for their items.
    assert set(stats["touched"]["folders"]) <= PRIVATE_FOLDERS | {"Calendar"}
    # Not even described: the FindFolder restriction keeps system and public folders out.
    described = set(stats["touched"].get("folder_metadata", {}))
    assert not {p for p in described if p.startswith("Public Folders")}
    system = {"Recipient Cache", "GAL Contacts", "Organizational Contacts", "Companies"}
    assert not {p for p in described if p.rsplit("/", 1)[-1] in system}
    assert stats["total_writes"] == 0

    folders = {r["path"] for r in run.records["contact_folders"]}
    assert folders == PRIVATE_FOLDERS
    names = {r["name"] for r in run.records["categories"]}
    assert {"Clients", "Partners", "VIP"} <= names
    assert all(r["guid"].startswith("{") for r in run.records["categories"])


@pytest.mark.spec("S6", "S9")
def test_deletions_and_moves_are_emitted_as_deletion_records(ews) -> None:
    address = "deletes@example.com"
    account = account_for(ews, address)
    first = run_tap(tap_config(ews, address))
    victim_id = first.records["contacts"][0]["id"]
    victim = next(account.fetch(ids=[(victim_id, None)], only_fields=["display_name"]))
    victim.delete()
    changed = next(r for r in first.records["contacts"][1:] if r["folder_path"] == "Contacts")
    item = next(account.fetch(ids=[(changed["id"], None)], only_fields=["display_name"]))
    item.display_name = "Renamed by test"
    item.save(update_fields=["display_name"])

    second = run_tap(tap_config(ews, address), first.state)

    contacts = second.records["contacts"]
    deletions = [r for r in contacts if r.get("_sdc_deleted_at")]
    assert [set(r) for r in deletions] == [{"id", "folder_id", "_sdc_deleted_at"}]
    assert deletions[0]["id"] == victim_id
    assert deletions[0]["folder_id"] == first.records["contacts"][0]["folder_id"]
    updates = [r for r in contacts if not r.get("_sdc_deleted_at")]
    assert [(r["id"], r["display_name"]) for r in updates] == [(changed["id"], "Renamed by test")]
    # A third run from the new state has nothing left to say.
    assert "contacts" not in run_tap(tap_config(ews, address), second.state).records


@pytest.mark.spec("S9")
def test_start_date_limits_the_first_read(ews) -> None:
    config = tap_config(ews, ADDRESS, start_date="2024-01-01T00:20:00Z")
    run = run_tap(config)
    assert run.records.get("contacts")
    assert all(r["last_modified_time"] >= "2024-01-01T00:20:00Z" for r in run.records["contacts"])
    full = run_tap(tap_config(ews, ADDRESS))
    assert len(full.records["contacts"]) > len(run.records["contacts"])


def test_oauth2_access_token_reads_the_same_contacts(ews, caplog) -> None:
    basic = run_tap(tap_config(ews, ADDRESS))
    config = tap_config(ews, ADDRESS, auth_type="oauth2", password=None, access_token=OAUTH_TOKEN)
    oauth = run_tap(config)
    assert {r["id"] for r in oauth.records["contacts"]} == {
        r["id"] for r in basic.records["contacts"]
    }
    assert OAUTH_TOKEN not in caplog.text


@pytest.mark.spec("S1.2")
def test_first_read_asks_for_the_scope_after_the_sync_so_no_change_is_missed(ews) -> None:
    """A contact tagged between the sync pages and the scope query is fetched by the first read;
    one untagged then is not, and the next incremental read reports it, so the state never hides
    a change (the sync state is taken before the scope is asked)."""
    address = "race@example.com"
    account = account_for(ews, address)
    contacts = private_contacts(account)
    tagged = next(c for c in contacts if not c.categories and not c.sell_link)
    untagged = next(c for c in contacts if c.categories == ["Clients"] and not c.sell_link)
    original = contact_reader.ids_in_scope
    edited: list[str] = []

    def edit_then_ask(account_, folder, scope):
        if not edited:
            edited.append("done")
            tagged.categories = ["Clients"]
            tagged.save(update_fields=["categories"])
            untagged.categories = ["VIP"]
            untagged.save(update_fields=["categories"])
        return original(account_, folder, scope)

    config = tap_config(ews, address, categories=["Clients"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contact_reader, "ids_in_scope", edit_then_ask)
        first = run_tap(config)
    first_ids = {r["id"] for r in first.records["contacts"]}
    assert tagged.id in first_ids
    assert untagged.id not in first_ids

    second = run_tap(config, first.state)
    # Both edits came after the sync state: reported again, and filtered by the current value.
    second_ids = {r["id"] for r in second.records["contacts"]}
    assert tagged.id in second_ids
    assert untagged.id not in second_ids
    assert "contacts" not in run_tap(config, second.state).records
