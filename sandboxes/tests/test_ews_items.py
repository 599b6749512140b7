"""Contacts through exchangelib 5.6.0: create, read, update, delete, find (reference §10 7-10)."""

from __future__ import annotations

from datetime import timedelta

import exchangelib
import pytest
from ews_sandbox.testing import account, endpoint, validated_sandbox
from exchangelib import ExtendedProperty, Q
from exchangelib.errors import (
    ErrorInvalidChangeKey,
    ErrorIrresolvableConflict,
    ErrorItemNotFound,
)
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.items import AUTO_RESOLVE, NEVER_OVERWRITE, Contact, DistributionList
from exchangelib.properties import Mailbox, Member

pytestmark = pytest.mark.subprocess


class SellId(ExtendedProperty):
    distinguished_property_set_id = "PublicStrings"
    property_name = "sell-id"
    property_type = "String"


@pytest.fixture(scope="module")
def sandbox():
    Contact.register("sell_id", SellId)
    try:
        with validated_sandbox(["--seed", "40"]) as sb:
            yield sb
    finally:
        exchangelib.close_connections()
        Contact.deregister("sell_id")


@pytest.fixture(scope="module")
def acct(sandbox):
    return account(sandbox)


def make(acct, **fields) -> Contact:
    fields.setdefault("display_name", fields.get("given_name", "Someone"))
    contact = Contact(folder=acct.contacts, **fields)
    contact.save()
    return contact


def test_create_and_read_back_every_mapped_field(acct):
    contact = make(
        acct,
        given_name="Ada",
        surname="Lovelace",
        display_name="Ada Lovelace",
        company_name="Analytical Engines",
        job_title="Engineer",
        email_addresses=[EmailAddress(label="EmailAddress1", email="ada@example.com")],
        phone_numbers=[PhoneNumber(label="MobilePhone", phone_number="+44 7700 900123")],
        physical_addresses=[PhysicalAddress(label="Business", street="1 Main St", city="Zürich")],
        business_homepage="https://ada.example",
        body="Notes — ¡hola!",
        categories=["VIP", "Clients"],
        sell_id="sell-42",
    )
    assert contact.id
    assert contact.changekey
    back = acct.contacts.get(id=contact.id)
    assert (back.given_name, back.surname, back.display_name) == ("Ada", "Lovelace", "Ada Lovelace")
    assert back.company_name == "Analytical Engines"
    assert back.job_title == "Engineer"
    assert back.email_addresses[0].email == "ada@example.com"
    assert back.phone_numbers[0].phone_number == "+44 7700 900123"
    assert back.physical_addresses[0].city == "Zürich"
    assert back.body == "Notes — ¡hola!"
    assert back.categories == ["VIP", "Clients"]
    assert back.sell_id == "sell-42"
    assert back.file_as == "Lovelace, Ada"  # Outlook's default FileAs
    assert back.last_modified_time is not None
    assert back.item_class == "IPM.Contact"


def test_get_item_returns_only_requested_fields(acct):
    contact = make(acct, given_name="Only", surname="Some", job_title="Hidden")
    back = next(acct.fetch(ids=[contact], only_fields=["given_name", "categories"]))
    assert back.given_name == "Only"
    assert back.surname is None
    assert back.job_title is None
    assert back.display_name is None


def test_get_item_reports_missing_ids_per_item(acct):
    contact = make(acct, given_name="Gone")
    ident = (contact.id, contact.changekey)
    contact.delete()
    results = list(acct.fetch(ids=[ident]))
    assert isinstance(results[0], ErrorItemNotFound)


def test_update_indexed_fields_and_extended_property(acct):
    contact = make(
        acct,
        given_name="Grace",
        email_addresses=[EmailAddress(label="EmailAddress1", email="old@example.com")],
        physical_addresses=[PhysicalAddress(label="Business", street="Old St", city="Austin")],
        sell_id="a",
    )
    old_key = contact.changekey
    before = acct.contacts.get(id=contact.id).last_modified_time
    contact.email_addresses = [EmailAddress(label="EmailAddress2", email="new@example.com")]
    contact.physical_addresses = [PhysicalAddress(label="Business", city="Kraków")]
    contact.sell_id = "b"
    contact.save(update_fields=["email_addresses", "physical_addresses", "sell_id"])
    assert contact.changekey != old_key
    back = acct.contacts.get(id=contact.id)
    assert [(e.label, e.email) for e in back.email_addresses] == [
        ("EmailAddress2", "new@example.com")
    ]
    assert back.physical_addresses[0].city == "Kraków"
    assert back.physical_addresses[0].street is None  # sub-field deleted by exchangelib
    assert back.sell_id == "b"
    assert back.last_modified_time >= before


def test_delete_item_field_clears_value(acct):
    contact = make(acct, given_name="Tim", job_title="CTO", sell_id="x")
    contact.job_title = None
    contact.sell_id = None
    contact.save(update_fields=["job_title", "sell_id"])
    back = acct.contacts.get(id=contact.id)
    assert back.job_title is None
    assert back.sell_id is None
    assert back.given_name == "Tim"


def test_change_key_conflicts(acct):
    contact = make(acct, given_name="Stale", job_title="One")
    stale = acct.contacts.get(id=contact.id)
    contact.job_title = "Two"
    contact.save(update_fields=["job_title"])
    stale.job_title = "Three"
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(update_fields=["job_title"], conflict_resolution=NEVER_OVERWRITE)
    assert acct.contacts.get(id=contact.id).job_title == "Two"
    stale.save(update_fields=["job_title"], conflict_resolution=AUTO_RESOLVE)
    assert acct.contacts.get(id=contact.id).job_title == "Three"
    results = acct.bulk_update([(contact, ["job_title"])])  # contact's key is stale now
    assert isinstance(results[0], ErrorIrresolvableConflict) or results[0][0] == contact.id
    contact.changekey = "bm90IGEgY2hhbmdlIGtleQ=="
    with pytest.raises(ErrorInvalidChangeKey):
        contact.save(update_fields=["job_title"])


def test_delete_kinds(acct, sandbox):
    hard, soft, moved = (make(acct, given_name=n) for n in ("Hard", "Soft", "Moved"))
    hard_id, soft_id, moved_id = hard.id, soft.id, moved.id
    hard.delete()
    soft.soft_delete()
    moved.move_to_trash()
    ids = {c.id for c in acct.contacts.all().only("id")}
    assert not ids & {hard_id, soft_id, moved_id}
    assert acct.trash.get(id=moved_id).given_name == "Moved"
    with pytest.raises(ErrorItemNotFound):
        acct.contacts.get(id=hard_id)


def test_bulk_create_and_distribution_lists(acct):
    results = acct.bulk_create(
        acct.contacts,
        [Contact(given_name=f"Bulk{i}", display_name=f"B{i} Ñúñez") for i in range(120)],
    )
    assert len(results) == 120
    assert all(r.id for r in results)
    dl = DistributionList(
        folder=acct.contacts,
        display_name="Friends",
        members=[Member(mailbox=Mailbox(name="Ada", email_address="ada@example.com"))],
    )
    dl.save()
    kinds = {type(i).__name__ for i in acct.contacts.all()}
    assert kinds == {"Contact", "DistributionList"}
    back = acct.contacts.get(id=dl.id)
    assert back.members[0].mailbox.email_address == "ada@example.com"


@pytest.fixture(scope="module")
def find_data(acct):
    folder = acct.contacts / "Partners"
    names = [("Zoë", "Øster", ["VIP"]), ("Alan", "Turing", ["Partners", "VIP"]),
             ("Barbara", "Liskov", []), ("Ken", "Thompson", ["Partners"])]  # fmt: skip
    made = [
        Contact(folder=folder, given_name=g, surname=s, display_name=g, categories=c or None,
                job_title="Engineer" if s != "Liskov" else None, sell_id=f"s-{s}")
        for g, s, c in names
    ]  # fmt: skip
    for contact in made:
        contact.save()
    return folder, made


def test_restrictions_each_kind(find_data):
    folder, made = find_data
    ours = {c.id: c.surname for c in made}
    everyone = {c.id for c in folder.all().only("id")}

    def names(query) -> set[str]:
        return {ours[c.id] for c in query.only("id") if c.id in ours}

    assert names(folder.filter(given_name="Alan")) == {"Turing"}
    assert names(folder.filter(given_name__not="Alan")) == {"Øster", "Liskov", "Thompson"}
    assert names(folder.filter(categories__contains=["VIP"])) == {"Øster", "Turing"}
    vip = names(folder.filter(Q(categories__contains=["VIP"]) & ~Q(given_name="Zoë")))
    assert vip == {"Turing"}
    either = names(folder.filter(Q(given_name="Ken") | Q(given_name="Barbara")))
    assert either == {"Thompson", "Liskov"}
    assert names(folder.filter(job_title__exists=True)) == {"Øster", "Turing", "Thompson"}
    assert names(folder.filter(surname__icontains="TURI")) == {"Turing"}
    assert names(folder.filter(surname__contains="TURI")) == set()  # Exact is case-sensitive
    assert names(folder.filter(surname__startswith="Tho")) == {"Thompson"}
    assert names(folder.filter(sell_id="s-Liskov")) == {"Liskov"}
    first = folder.get(id=made[0].id).last_modified_time
    newer = {c.id for c in folder.filter(last_modified_time__gte=first)}
    older = {c.id for c in folder.filter(last_modified_time__lt=first)}
    assert made[0].id in newer
    assert not newer & older
    assert (newer | older) == everyone
    future = first + timedelta(days=1)
    assert not list(folder.filter(last_modified_time__gt=future))
    assert {c.id for c in folder.filter(last_modified_time__lte=future)} == everyone


def test_sorting_and_paging(acct, sandbox):
    folder = acct.contacts
    total = folder.all().count()
    assert total > 20
    sandbox.reset()
    query = folder.all().only("surname", "given_name")
    query.page_size = 7
    items = list(query)
    assert len(items) == total
    assert sandbox.stats()["reads"]["FindItem"] == -(-total // 7)
    people = folder.filter(item_class="IPM.Contact")
    surnames = [c.surname or "" for c in people.order_by("surname").only("surname")]
    assert surnames == sorted(surnames, key=str.casefold)
    given = [c.given_name or "" for c in people.order_by("-given_name").only("given_name")]
    assert given == sorted(given, key=str.casefold, reverse=True)


def test_raw_indexed_restriction_and_find_item_refuses_body(sandbox, acct):
    import requests

    # Its own contact: with xdist the test that created "ada@example.com" may run elsewhere.
    make(
        acct,
        given_name="Raw",
        email_addresses=[EmailAddress(label="EmailAddress1", email="raw.restrict@example.com")],
    )

    def find(restriction: str, props: str = "") -> str:
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
 xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
<s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>
<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>
<t:AdditionalProperties>{props}
<t:IndexedFieldURI FieldURI="contacts:EmailAddress" FieldIndex="EmailAddress1"/>
</t:AdditionalProperties></m:ItemShape><m:Restriction>{restriction}</m:Restriction>
<m:ParentFolderIds><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds></m:FindItem>
</s:Body></s:Envelope>"""
        resp = requests.post(
            endpoint(sandbox), data=body.encode(), auth=("demo@example.com", "demo-password"),
            headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10,
        )  # fmt: skip
        assert resp.status_code == 200
        return resp.text

    text = find(
        '<t:IsEqualTo><t:IndexedFieldURI FieldURI="contacts:EmailAddress" '
        'FieldIndex="EmailAddress1"/><t:FieldURIOrConstant>'
        '<t:Constant Value="RAW.Restrict@example.com"/></t:FieldURIOrConstant></t:IsEqualTo>'
    )
    assert 'TotalItemsInView="1"' in text
    assert ">raw.restrict@example.com<" in text
    refused = find(
        '<t:Exists><t:FieldURI FieldURI="item:Subject"/></t:Exists>',
        '<t:FieldURI FieldURI="item:Body"/>',
    )
    assert "ErrorInvalidPropertyRequest" in refused


def test_validation_hook_catches_schema_drift():
    """The teardown validator must reject what exchangelib would silently accept (§12)."""
    from ews_sandbox.testing import response_problems

    good = b"""<?xml version="1.0" encoding="utf-8"?><s:Envelope
 xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo
 xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" MajorVersion="15"
 MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6"/></s:Header><s:Body>
<m:GetItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
 xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><m:ResponseMessages>
<m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>
<m:Items><t:Contact><t:ItemId Id="x"/>ORDER</t:Contact></m:Items></m:GetItemResponseMessage>
</m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>"""
    in_order = (
        b"<t:LastModifiedTime>2024-01-01T00:00:00Z</t:LastModifiedTime><t:Surname>A</t:Surname>"
    )
    swapped = (
        b"<t:Surname>A</t:Surname><t:LastModifiedTime>2024-01-01T00:00:00Z</t:LastModifiedTime>"
    )
    assert response_problems(good.replace(b"ORDER", in_order)) == []
    assert response_problems(good.replace(b"ORDER", swapped))
    no_header = (
        good.replace(b"ORDER", in_order).split(b"<s:Header>")[0]
        + b"<s:Body>"
        + (good.split(b"<s:Body>")[1].replace(b"ORDER", in_order))
    )
    assert "no s:Header/ServerVersionInfo" in response_problems(no_header)
