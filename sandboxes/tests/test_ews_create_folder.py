"""CreateFolder: what exchangelib's ``Folder.save()`` sends, what it reads back, and the errors."""

from __future__ import annotations

import exchangelib
import pytest
import requests
from ews_sandbox.ids import FOLDER, encode_id, mailbox_tag
from ews_sandbox.testing import account, endpoint, response_problems, validated_sandbox
from exchangelib.errors import ErrorFolderExists
from exchangelib.folders import DEEP, Contacts, Folder, SingleFolderQuerySet
from exchangelib.items import Contact
from lxml import etree

pytestmark = pytest.mark.subprocess

M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"


@pytest.fixture(scope="module")
def sandbox():
    with validated_sandbox(["--seed", "10", "--mailbox", "demo@example.com:demo-password",
                            "--mailbox", "other@example.org:other-pw"]) as sb:  # fmt: skip
        yield sb
    exchangelib.close_connections()


@pytest.fixture(scope="module")
def acct(sandbox):
    return account(sandbox)


def contact_folders(acct) -> dict[str, Folder]:
    """Contacts' subtree as FindFolder (Deep, restricted to IPF.Contact) lists it, by name."""
    subtree = SingleFolderQuerySet(account=acct, folder=acct.contacts).depth(DEEP)
    return {f.name: f for f in subtree.filter(folder_class="IPF.Contact")}


def create_folder(sandbox, parent: str, folders: str) -> bytes:
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{M}" xmlns:t="{T}">
<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
<s:Body><m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId>
<m:Folders>{folders}</m:Folders></m:CreateFolder></s:Body></s:Envelope>""".encode()
    resp = requests.post(
        endpoint(sandbox), data=body, auth=("demo@example.com", "demo-password"), timeout=10,
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )  # fmt: skip
    assert resp.status_code == 200
    assert response_problems(resp.content) == []
    return resp.content


def messages(payload: bytes) -> list[etree._Element]:
    return list(etree.fromstring(payload).iter(f"{{{M}}}CreateFolderResponseMessage"))


def test_exchangelib_creates_contact_folders_and_nested_ones(acct, sandbox):
    sandbox.reset()
    sell = Contacts(parent=acct.contacts, name="Sell")
    sell.save()
    generic = Folder(parent=acct.contacts, name="Imported Generic", folder_class="IPF.Contact")
    generic.save()
    nested = Contacts(parent=sell, name="Imported")
    nested.save()
    assert all(f.changekey for f in (sell, generic, nested))
    assert len({sell.id, generic.id, nested.id} - {None}) == 3

    stats = sandbox.stats()
    assert stats["by_tenant"]["demo@example.com"]["writes"] == {"CreateFolder": 3}
    assert "CreateFolder" not in stats["by_tenant"]["demo@example.com"].get("reads", {})
    assert "Contacts/Sell/Imported" in stats["touched"]["folder_metadata"]
    assert "other@example.org" not in stats["by_tenant"]

    # A fresh client finds them as any seeded folder: typed as contacts folders, parents right.
    exchangelib.close_connections()
    fresh = account(sandbox)
    found = contact_folders(fresh)
    assert {"Sell", "Imported", "Imported Generic", "Clients"} <= set(found)
    assert type(found["Sell"]) is Contacts
    assert type(found["Imported Generic"]) is Contacts
    assert found["Sell"].id == sell.id
    assert found["Imported"].parent_folder_id.id == sell.id
    assert found["Sell"].parent_folder_id.id == fresh.contacts.id
    assert found["Sell"].child_folder_count == 1
    got = SingleFolderQuerySet(account=fresh, folder=fresh.contacts).get(id=nested.id)  # GetFolder
    assert (got.name, got.folder_class, got.total_count) == ("Imported", "IPF.Contact", 0)
    # The other mailbox's tree is untouched.
    other = account(sandbox, "other@example.org", "other-pw")
    assert "Sell" not in contact_folders(other)


def test_same_name_twice_is_error_folder_exists(acct, sandbox):
    Contacts(parent=acct.contacts, name="Twice").save()
    sandbox.reset()
    with pytest.raises(ErrorFolderExists):
        Contacts(parent=acct.contacts, name="Twice").save()
    with pytest.raises(ErrorFolderExists):  # folder names compare case-insensitively
        Folder(parent=acct.contacts, name="TWICE", folder_class="IPF.Contact").save()
    # Counted as writes even though refused; nothing new in the tree.
    assert sandbox.stats()["writes"] == {"CreateFolder": 2}
    assert [f for f in contact_folders(acct) if f.casefold() == "twice"] == ["Twice"]
    # The same name below another parent is fine.
    twice = contact_folders(acct)["Twice"]
    Contacts(parent=twice, name="Twice").save()


def test_contacts_are_created_found_and_synced_in_a_new_folder(acct):
    folder = Contacts(parent=acct.contacts, name="Fresh Leads")
    folder.save()
    changes = list(folder.sync_items())
    assert changes == []
    state = folder.item_sync_state
    made = Contact(folder=folder, given_name="Nina", surname="New", display_name="Nina New")
    made.save()
    listed = contact_folders(acct)["Fresh Leads"]
    assert listed.total_count == 1
    assert [c.id for c in listed.all()] == [made.id]
    assert made.id not in {c.id for c in acct.contacts.all().only("id")}
    synced = list(folder.sync_items(sync_state=state))
    assert [(kind, obj.id) for kind, obj in synced] == [("create", made.id)]


def test_raw_create_folder_answers(acct, sandbox):
    contacts = '<t:DistinguishedFolderId Id="contacts"/>'
    ok = create_folder(
        sandbox,
        contacts,
        "<t:ContactsFolder><t:DisplayName>Raw Typed</t:DisplayName></t:ContactsFolder>"
        "<t:Folder><t:FolderClass>IPF.Note</t:FolderClass><t:DisplayName>Raw Notes"
        "</t:DisplayName></t:Folder>"
        "<t:ContactsFolder><t:DisplayName>Raw Typed</t:DisplayName></t:ContactsFolder>",
    )
    first, second, third = messages(ok)
    # One message per folder; the new folder is the requested element with Id and ChangeKey.
    new = first.find(f"{{{M}}}Folders/{{{T}}}ContactsFolder/{{{T}}}FolderId")
    assert new is not None
    assert new.get("Id")
    assert new.get("ChangeKey")
    assert second.find(f"{{{M}}}Folders/{{{T}}}Folder/{{{T}}}FolderId") is not None
    assert third.get("ResponseClass") == "Error"
    assert third.findtext(f"{{{M}}}ResponseCode") == "ErrorFolderExists"
    assert third.find(f"{{{M}}}Folders") is not None  # empty, as in Microsoft's example
    found = contact_folders(acct)
    assert found["Raw Typed"].id == new.get("Id")
    assert "Raw Notes" not in found  # an IPF.Note folder is no contacts folder

    def code(parent: str, folder: str) -> str:
        return messages(create_folder(sandbox, parent, folder))[0].findtext(f"{{{M}}}ResponseCode")

    typed_with_class = (
        "<t:ContactsFolder><t:FolderClass>IPF.Note</t:FolderClass>"
        "<t:DisplayName>X</t:DisplayName></t:ContactsFolder>"
    )
    assert code(contacts, typed_with_class) == "ErrorNoFolderClassOverride"
    gone = encode_id(mailbox_tag("demo@example.com"), FOLDER, 10**9)  # well-formed, no folder
    named = "<t:Folder><t:DisplayName>Y</t:DisplayName></t:Folder>"
    assert code(f'<t:FolderId Id="{gone}"/>', named) == "ErrorParentFolderNotFound"
    assert code('<t:FolderId Id="garbage"/>', named) == "ErrorInvalidIdMalformed"
    assert code('<t:DistinguishedFolderId Id="publicfoldersroot"/>', named) == (
        "ErrorCreateSubfolderAccessDenied"
    )
    other_contacts = (
        '<t:DistinguishedFolderId Id="contacts"><t:Mailbox>'
        "<t:EmailAddress>other@example.org</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"
    )
    assert code(other_contacts, named) == "ErrorAccessDenied"
    assert code(contacts, "<t:Folder><t:DisplayName> </t:DisplayName></t:Folder>") == (
        "ErrorFolderSavePropertyError"
    )
