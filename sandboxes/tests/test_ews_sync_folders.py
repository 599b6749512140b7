"""SyncFolderItems, the folder tree, the master category list and the seeded data set."""

from __future__ import annotations

import exchangelib
import pytest
from ews_sandbox.testing import account, validated_sandbox
from exchangelib.errors import ErrorInvalidSyncStateData, ErrorItemNotFound, ErrorItemSave
from exchangelib.folders import DEEP, SingleFolderQuerySet
from exchangelib.items import Contact
from lxml import etree

pytestmark = pytest.mark.subprocess

CATEGORY_NS = "{CategoryList.xsd}"


@pytest.fixture(scope="module")
def sandbox():
    with validated_sandbox(["--seed", "30", "--mailbox", "demo@example.com:demo-password",
                            "--mailbox", "other@example.org:other-pw"]) as sb:  # fmt: skip
        yield sb
    exchangelib.close_connections()


@pytest.fixture(scope="module")
def acct(sandbox):
    return account(sandbox)


def drain(folder, state=None, **kwargs) -> tuple[list[tuple[str, object]], str]:
    changes = list(folder.sync_items(sync_state=state, **kwargs))
    return changes, folder.item_sync_state


def test_sync_reports_creates_updates_and_deletes(acct):
    folder = acct.contacts / "Partners"
    first, state = drain(folder)
    assert first
    assert {kind for kind, _ in first} == {"create"}
    assert len(first) == folder.all().count()
    again, same = drain(folder, state)
    assert again == []
    new = Contact(folder=folder, display_name="Fresh", given_name="Fresh")
    new.save()
    existing = next(obj for _, obj in first)
    existing.job_title = "Changed"
    existing.save(update_fields=["job_title"])
    doomed = [obj for _, obj in first][1]
    doomed_id = doomed.id
    doomed.delete()
    transient = Contact(folder=folder, display_name="Transient")
    transient.save()
    transient.delete()
    changes, _ = drain(folder, same)
    seen = {(kind, getattr(obj, "id", None)) for kind, obj in changes}
    assert seen == {("create", new.id), ("update", existing.id), ("delete", doomed_id)}
    updated = next(obj for kind, obj in changes if kind == "update")
    assert updated.job_title == "Changed"


def test_sync_pages_with_max_changes_returned(acct, sandbox):
    folder = acct.contacts
    total = folder.all().count()
    sandbox.reset()
    changes, _ = drain(folder, max_changes_returned=4)
    assert len(changes) == total
    assert sandbox.stats()["reads"]["SyncFolderItems"] == -(-total // 4)


def test_sync_rejects_garbage_and_foreign_states(acct):
    with pytest.raises(ErrorInvalidSyncStateData):
        drain(acct.contacts, "bm90IGEgc3RhdGU=")
    _, partners_state = drain(acct.contacts / "Partners")
    with pytest.raises(ErrorInvalidSyncStateData):
        drain(acct.contacts / "Clients", partners_state)


def test_move_out_of_folder_is_a_delete(acct):
    folder = acct.contacts / "Clients"
    _, state = drain(folder)
    victim = next(iter(folder.all()))
    victim_id = victim.id
    victim.move_to_trash()
    changes, _ = drain(folder, state)
    assert [(k, o.id) for k, o in changes] == [("delete", victim_id)]


def test_folder_tree_has_user_system_and_public_folders(acct, sandbox):
    subtree = SingleFolderQuerySet(account=acct, folder=acct.contacts).depth(DEEP).all()
    found = {f.name: f.folder_class for f in subtree}
    assert found["Clients"] == "IPF.Contact"
    assert found["Key Accounts"] == "IPF.Contact"
    assert found["Recipient Cache"] == "IPF.Contact.RecipientCache"
    assert found["GAL Contacts"] == "IPF.Contact.GalContacts"
    assert found["Companies"] == "IPF.Contact.Company"
    assert found["{06967759-274D-40B2-A3EB-D7F9E73727D7}"] == "IPF.Contact"
    walked = {f.name for f in acct.root.walk()}
    assert {"Inbox", "Calendar", "Contacts", "Quick Contacts", "IM Contact List"} <= walked
    public = {f.name for f in acct.public_folders_root.children}
    assert public == {"Company Contacts"}
    assert (acct.public_folders_root / "Company Contacts").total_count == 3


def test_find_folder_restriction_on_folder_fields(acct):
    """Exchange filters FindFolder on folder properties such as folder:FolderClass."""
    subtree = SingleFolderQuerySet(account=acct, folder=acct.contacts).depth(DEEP)
    plain = {f.name for f in subtree.filter(folder_class="IPF.Contact")}
    assert plain == {
        "Clients",
        "Key Accounts",
        "Partners",
        "{06967759-274D-40B2-A3EB-D7F9E73727D7}",
    }
    assert {f.name for f in subtree.filter(name="Partners")} == {"Partners"}


def test_stats_prove_which_folders_were_read(acct, sandbox):
    sandbox.reset()
    list((acct.contacts / "Clients").all().only("display_name"))
    touched = sandbox.stats()["touched"]
    assert set(touched["folders"]) == {"Contacts/Clients"}
    assert set(touched["folders:demo@example.com"]) == {"Contacts/Clients"}
    list((acct.public_folders_root / "Company Contacts").all().only("display_name"))
    assert "Public Folders/Company Contacts" in sandbox.stats()["touched"]["folders"]


def test_category_list_read_write(acct):
    calendar = acct.calendar
    config = calendar.get_user_configuration("CategoryList")
    root = etree.fromstring(config.xml_data)
    assert root.tag == f"{CATEGORY_NS}categories"
    names = [c.get("name") for c in root]
    assert names[:6] == ["Red category", "Orange category", "Yellow category",
                         "Green category", "Blue category", "Purple category"]  # fmt: skip
    assert {"Clients", "Partners", "VIP"} <= set(names)
    for category in root:
        assert category.get("guid").startswith("{")
        assert category.get("guid").endswith("}")
    etree.SubElement(root, f"{CATEGORY_NS}category", name="Sell Person", color="7",
                     guid="{00000000-0000-0000-0000-000000000001}", unknownAttr="kept")  # fmt: skip
    calendar.update_user_configuration("CategoryList", xml_data=etree.tostring(root))
    back = etree.fromstring(calendar.get_user_configuration("CategoryList").xml_data)
    assert back[-1].get("name") == "Sell Person"
    assert back[-1].get("unknownAttr") == "kept"
    with pytest.raises(ErrorItemSave):
        calendar.create_user_configuration("CategoryList", xml_data=b"<x/>")
    calendar.delete_user_configuration("CategoryList")
    with pytest.raises(ErrorItemNotFound):
        calendar.get_user_configuration("CategoryList")
    calendar.create_user_configuration("CategoryList", xml_data=etree.tostring(back))
    assert calendar.get_user_configuration("CategoryList").xml_data == etree.tostring(back)


def _snapshot(acct) -> list[tuple]:
    return [
        (c.id, c.display_name, tuple(c.categories or ()),
         tuple(e.email for e in c.email_addresses or ()))
        for c in acct.contacts.all().only("display_name", "categories", "email_addresses")
        if isinstance(c, Contact)
    ]  # fmt: skip


def test_seed_is_deterministic_and_differs_per_mailbox(acct, sandbox):
    with validated_sandbox(["--seed", "30", "--mailbox", "demo@example.com:demo-password",
                            "--mailbox", "other@example.org:other-pw"]) as twin:  # fmt: skip
        exchangelib.close_connections()
        fresh = _snapshot(account(twin))
        other = _snapshot(account(twin, "other@example.org", "other-pw"))
        exchangelib.close_connections()
    assert fresh
    assert [row[1:] for row in fresh] != [row[1:] for row in other]
    emails = [row[3] for row in fresh]
    assert any(not e for e in emails)  # a few contacts carry no e-mail
    assert any(any(ord(ch) > 127 for ch in row[1]) for row in fresh)  # non-ASCII names
    assert any(row[2] for row in fresh)
    assert any(not row[2] for row in fresh)  # categories on about half
    names = [row[1] for row in fresh]
    assert len(set(names)) < len(names) or len(fresh) < 23  # duplicates


def test_no_seed_gives_empty_tree_with_default_categories():
    with validated_sandbox() as bare:
        acct = account(bare)
        assert acct.contacts.all().count() == 0
        root = etree.fromstring(acct.calendar.get_user_configuration("CategoryList").xml_data)
        assert len(root) == 6
        assert {c.get("renameOnFirstUse") for c in root} == {"1"}
        exchangelib.close_connections()
