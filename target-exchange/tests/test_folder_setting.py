"""Setting ``folder`` (S1.3): new contacts go to a folder below Contacts, created once when
missing; matched contacts stay where they are; the tap reads the new folder as a private one."""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest
from exchange_mailbox.errors import ExchangeSetupError
from exchange_mailbox.ews.connection import disconnect
from exchange_mailbox.ews.folders import private_contact_folders
from exchangelib import Contact
from exchangelib.folders import Folder
from exchangelib.indexed_properties import EmailAddress
from tap_exchange_contacts.tap import TapExchangeContacts

from .conftest import PASSWORD, person

pytestmark = pytest.mark.subprocess

T2 = "2025-02-01T10:00:00Z"
SYSTEM_FOLDERS = {"Recipient Cache", "GAL Contacts", "Organizational Contacts", "Quick Contacts",
                  "IM Contact List", "Companies"}  # fmt: skip


def create_folder_calls(env) -> int:
    """CreateFolder requests this test's mailbox sent (the sandbox counts them as writes)."""
    tenant = env.ews.stats()["by_tenant"].get(env.mailbox, {})
    return tenant.get("writes", {}).get("CreateFolder", 0)


def folder_paths(env) -> dict[str, str]:
    """Private contact folder path -> id, as the tap and the target discover them."""
    account = env.account()
    try:
        return {f.path: f.id for f in private_contact_folders(account)}
    finally:
        disconnect(account)


def where(env) -> dict[str, str]:
    """Display name -> path of the private folder holding the contact (FindItem per folder)."""
    account = env.account()
    try:
        return {
            item.display_name: folder.path
            for folder in private_contact_folders(account)
            for item in folder.folder.all().only("display_name")
            if isinstance(item, Contact)
        }
    finally:
        disconnect(account)


def existing_contact(env, folder_name: str | None = None) -> str:
    """A contact the user already has (in Contacts or a subfolder) that matches person(1)."""
    account = env.account()
    try:
        folder = account.contacts
        if folder_name is not None:
            folder = Folder(parent=account.contacts, name=folder_name, folder_class="IPF.Contact")
            folder.save()
        item = Contact(
            account=account,
            folder=folder,
            given_name="First1",
            surname="Last1",
            display_name="First1 Last1",
            email_addresses=[EmailAddress(label="EmailAddress1", email="person1@example.org")],
        )
        item.save()
        return item.id
    finally:
        disconnect(account)


def run_tap(env) -> dict[str, list[dict[str, Any]]]:
    """tap-exchange-contacts in-process on the same mailbox; records by stream."""
    config = {
        "primary_smtp_address": env.mailbox,
        "password": PASSWORD,
        "auth_type": "basic",
        "service_endpoint": env.endpoint,
        "server_version": "15.1.2507.6",
        "categories": ["Sell Person"],
    }
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        TapExchangeContacts(config=config, parse_env_config=False).sync_all()
    records: dict[str, list[dict[str, Any]]] = {}
    for line in buffer.getvalue().splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    return records


@pytest.mark.spec("S1.3")
def test_folder_is_created_once_new_contacts_go_there_matched_ones_stay(env):
    matched_id = existing_contact(env)
    report = env.run({"contacts": [person(1), person(2)]}, folder="Sell")
    assert report["streams"]["contacts"]["created"] == 1
    assert create_folder_calls(env) == 1
    paths = folder_paths(env)
    assert "Contacts/Sell" in paths
    assert where(env) == {"First1 Last1": "Contacts", "First2 Last2": "Contacts/Sell"}

    # Second run, setting spelled with the optional 'Contacts/': the folder is reused.
    report = env.run(
        {"contacts": [person(1, title="CTO", updated_at=T2), person(3)]}, folder="Contacts/Sell"
    )
    assert report["streams"]["contacts"]["created"] == 1
    assert report["streams"]["contacts"]["updated"] == 1
    assert create_folder_calls(env) == 1
    assert folder_paths(env) == paths
    assert where(env) == {
        "First1 Last1": "Contacts",
        "First2 Last2": "Contacts/Sell",
        "First3 Last3": "Contacts/Sell",
    }
    items = env.contacts()
    assert len(items) == 3
    first = next(c for c in items if c.display_name == "First1 Last1")
    assert first.id == matched_id
    assert first.job_title == "CTO"
    # Creating the folder did not walk the mailbox: no folder outside Contacts was described.
    described = set(env.ews.stats()["touched"][f"folder_metadata:{env.mailbox}"]) - {"Root"}
    assert {p for p in described if p.split("/")[0] != "Contacts"} == set()
    assert not {p for p in described if p.rsplit("/", 1)[-1] in SYSTEM_FOLDERS}


@pytest.mark.spec("S1.3")
def test_nested_folder_reuses_existing_parts_and_matched_contacts_in_subfolders_stay(env):
    existing_contact(env, folder_name="Clients")
    before = create_folder_calls(env)  # the user's own folder above
    env.run({"contacts": [person(2)]}, folder="Sell")
    assert create_folder_calls(env) == before + 1
    # Only the missing last part is created; a matched contact stays in its own subfolder.
    report = env.run({"contacts": [person(1), person(3)]}, folder="Sell/Imported")
    assert report["streams"]["contacts"]["created"] == 1
    assert create_folder_calls(env) == before + 2
    env.run({"contacts": [person(4)]}, folder="Contacts/Sell/Imported")
    assert create_folder_calls(env) == before + 2
    assert {"Contacts/Sell", "Contacts/Sell/Imported"} <= set(folder_paths(env))
    assert len(env.contacts()) == 4
    assert where(env) == {
        "First1 Last1": "Contacts/Clients",
        "First2 Last2": "Contacts/Sell",
        "First3 Last3": "Contacts/Sell/Imported",
        "First4 Last4": "Contacts/Sell/Imported",
    }


@pytest.mark.spec("S1.3")
def test_two_new_levels_in_one_run(env):
    env.run({"contacts": [person(1)]}, folder="Sell/Imported/2025")
    assert create_folder_calls(env) == 3
    assert where(env) == {"First1 Last1": "Contacts/Sell/Imported/2025"}
    env.run({"contacts": [person(2)]}, folder="sell/imported/2025")  # names match as in Outlook
    assert create_folder_calls(env) == 3
    assert set(where(env).values()) == {"Contacts/Sell/Imported/2025"}


@pytest.mark.spec("S1.1", "S1.3")
def test_tap_reads_contacts_of_the_new_folder_as_private_contacts(env):
    env.run({"contacts": [person(1), person(2)]}, folder="Sell")
    sell_id = folder_paths(env)["Contacts/Sell"]
    records = run_tap(env)
    folders = {r["path"]: r for r in records["contact_folders"]}
    assert folders["Contacts/Sell"]["id"] == sell_id
    contacts = {r["display_name"]: r for r in records["contacts"]}
    assert set(contacts) == {"First1 Last1", "First2 Last2"}
    for record in contacts.values():
        assert record["folder_path"] == "Contacts/Sell"
        assert record["sell_link"]


@pytest.mark.spec("S1.3", "S10.3")
def test_folder_setting_refused_create_is_a_clear_setup_error(env):
    """A sibling of another class already holds the name (Exchange refuses a second folder of
    that name, ErrorFolderExists): the run stops naming the setting, nothing is written."""
    account = env.account()
    Folder(parent=account.contacts, name="Sell", folder_class="IPF.Note").save()
    disconnect(account)
    with pytest.raises(ExchangeSetupError) as caught:
        env.run({"contacts": [person(1)]}, folder="Sell")
    assert caught.value.setting == "folder"
    assert "'folder'" in str(caught.value)
    assert "ErrorFolderExists" in str(caught.value)
    assert create_folder_calls(env) == 2  # ours above, then the refused one
    assert env.contacts() == []
