"""Graph over the EWS store, driven by Microsoft's msgraph-sdk and exchangelib on one mailbox.

SPEC §3 (`exchange-sandbox`: one store, both protocols), S13.1 (every rule over both: the two
views of a mailbox agree), S13.2 (the link property is one MAPI named property over both).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from exchangelib import Contact, ExtendedProperty
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from graph_sandbox.testing import (
    CLIENT_ID,
    SECRET,
    TENANT,
    app_token,
    graph_client,
    http_session,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.contact import Contact as GraphContact
from msgraph.generated.models.email_address import EmailAddress as GraphEmail
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.single_value_legacy_extended_property import (
    SingleValueLegacyExtendedProperty,
)
from msgraph.generated.users.item.contacts.contacts_request_builder import ContactsRequestBuilder

# msgraph-sdk's generated request builders warn about their own deprecated configuration classes.
pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.subprocess,
]
USER, PASSWORD = "demo@example.com", "demo-password"
ARGS = ["--tls", "--seed", "40", "--mailbox", f"{USER}:{PASSWORD}",
        "--app", f"{TENANT}:{CLIENT_ID}:{SECRET}"]  # fmt: skip
LINK_SET = "66f5a359-4659-4830-9070-00047ec6ac6e"
LINK_ID = f"String {{{LINK_SET}}} Name SellId"
HIDDEN_SYSTEM_FOLDERS = {
    "Recipient Cache", "GAL Contacts", "Organizational Contacts", "Quick Contacts",
    "IM Contact List", "Companies", "{06967759-274D-40B2-A3EB-D7F9E73727D7}",
}  # fmt: skip


class SellId(ExtendedProperty):
    """The link property as an EWS client declares it (a MAPI named string property)."""

    property_set_id = LINK_SET
    property_name = "SellId"
    property_type = "String"


@pytest.fixture(scope="module", autouse=True)
def _sell_id():
    """exchangelib knows the link property for the whole module, as the product registers it."""
    Contact.register("sell_id", SellId)
    yield
    Contact.deregister("sell_id")


def run(coro):
    return asyncio.run(coro)


async def _all_contacts(client, builder) -> list[GraphContact]:
    page = await builder.get()
    items = list(page.value or [])
    while page.odata_next_link:
        page = await builder.with_url(page.odata_next_link).get()
        items.extend(page.value or [])
    return items


def _graph_view(contact: GraphContact) -> tuple:
    return (
        contact.display_name,
        contact.given_name,
        contact.surname,
        contact.company_name,
        tuple(e.address for e in contact.email_addresses or []),
        tuple(contact.business_phones or []),
        contact.mobile_phone,
        tuple(sorted(contact.categories or [])),
    )


def _ews_view(contact: Contact) -> tuple:
    emails = {e.label: e.email for e in contact.email_addresses or []}
    phones = {p.label: p.phone_number for p in contact.phone_numbers or []}
    return (
        contact.display_name,
        contact.given_name,
        contact.surname,
        contact.company_name,
        tuple(
            emails[k] for k in ("EmailAddress1", "EmailAddress2", "EmailAddress3") if k in emails
        ),
        tuple(phones[k] for k in ("BusinessPhone", "BusinessPhone2") if k in phones),
        phones.get("MobilePhone"),
        tuple(sorted(contact.categories or [])),
    )


@pytest.mark.spec("S13.1")
def test_folder_tree_agrees_with_ews(sandbox, ews):
    async def folders():
        client = graph_client(sandbox)
        top = await client.users.by_user_id(USER).contact_folders.get()
        names = {}
        for folder in top.value:
            children = await (
                client.users.by_user_id(USER).contact_folders.by_contact_folder_id(folder.id)
                .child_folders.get()
            )  # fmt: skip
            names[folder.display_name] = sorted(c.display_name for c in children.value)
        default = (
            await client.users.by_user_id(USER)
            .contact_folders.by_contact_folder_id(top.value[0].parent_folder_id)
            .get()
        )
        return names, default

    names, default = run(folders())
    assert default.display_name == "Contacts"
    ews_children = {f.name for f in ews.contacts.children} - HIDDEN_SYSTEM_FOLDERS
    assert set(names) == ews_children == {"Clients", "Partners"}
    assert names["Clients"] == ["Key Accounts"]


@pytest.mark.spec("S13.1")
def test_default_folder_contacts_agree_with_ews_over_pages(sandbox, ews):
    async def read():
        client = graph_client(sandbox)
        return await _all_contacts(client, client.users.by_user_id(USER).contacts)

    graph = run(read())
    ews_contacts = [c for c in ews.contacts.all() if isinstance(c, Contact)]
    assert len(graph) == len(ews_contacts) > 10  # more than one page of 10
    assert sorted(map(_graph_view, graph)) == sorted(map(_ews_view, ews_contacts))
    assert all(c.parent_folder_id == graph[0].parent_folder_id for c in graph)
    ews_ids = {c.id for c in ews_contacts}
    assert not ews_ids & {c.id for c in graph}, "Graph ids are not EWS ids"


def test_select_and_top(sandbox):
    async def read():
        client = graph_client(sandbox)
        config = RequestConfiguration(
            query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                select=["givenName", "emailAddresses"], top=3
            )
        )
        return await client.users.by_user_id(USER).contacts.get(request_configuration=config)

    page = run(read())
    assert len(page.value) == 3
    assert page.odata_next_link
    assert "%24top=3" in page.odata_next_link or "$top=3" in page.odata_next_link
    first = page.value[0]
    assert first.given_name
    assert first.id
    assert first.surname is None
    assert first.company_name is None
    token = app_token(sandbox)
    raw = http_session(sandbox).get(
        f"{sandbox.base_url}/v1.0/users/{USER}/contacts?$select=givenName&$top=1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert set(raw.json()["value"][0]) == {"@odata.etag", "id", "givenName"}
    bad = http_session(sandbox).get(
        f"{sandbox.base_url}/v1.0/users/{USER}/contacts?$select=nonsense",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert bad.status_code == 400


@pytest.mark.spec("S13.1")
def test_created_over_graph_reads_over_ews_and_the_reverse(sandbox, ews):
    marker = uuid.uuid4().hex[:8]

    async def create():
        client = graph_client(sandbox)
        body = GraphContact(
            given_name="Grace",
            surname=f"Graph-{marker}",
            email_addresses=[GraphEmail(address=f"grace.{marker}@example.com", name="Grace")],
            business_phones=["+1 555 0100"],
            categories=["Clients"],
        )
        return await client.users.by_user_id(USER).contacts.post(body)

    created = run(create())
    assert created.display_name == f"Grace Graph-{marker}"
    over_ews = ews.contacts.get(surname=f"Graph-{marker}")
    assert _ews_view(over_ews) == _graph_view(created)
    assert over_ews.file_as == f"Graph-{marker}, Grace"

    from_ews = Contact(
        folder=ews.contacts,
        display_name=f"Edsger Ews-{marker}",
        given_name="Edsger",
        surname=f"Ews-{marker}",
        email_addresses=[EmailAddress(email=f"edsger.{marker}@example.com", label="EmailAddress1")],
        phone_numbers=[PhoneNumber(label="MobilePhone", phone_number="+31 6 1234")],
    ).save()

    async def find():
        client = graph_client(sandbox)
        config = RequestConfiguration(
            query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                filter=f"emailAddresses/any(a:a/address eq 'EDSGER.{marker}@example.com')"
            )
        )
        return await client.users.by_user_id(USER).contacts.get(request_configuration=config)

    found = run(find()).value
    assert len(found) == 1
    assert _graph_view(found[0]) == _ews_view(ews.contacts.get(id=from_ews.id))
    assert found[0].change_key == ews.contacts.get(id=from_ews.id).changekey


@pytest.mark.spec("S13.2")
def test_link_property_is_one_mapi_named_property_over_both(sandbox, ews):
    marker = uuid.uuid4().hex[:8]
    Contact(
        folder=ews.contacts,
        display_name=f"Linked Ews-{marker}",
        given_name="Linked",
        surname=f"Ews-{marker}",
        sell_id=f"sell-{marker}",
    ).save()

    async def graph_side():
        client = graph_client(sandbox)
        contacts = client.users.by_user_id(USER).contacts
        config = RequestConfiguration(
            query_parameters=ContactsRequestBuilder.ContactsRequestBuilderGetQueryParameters(
                filter=f"singleValueExtendedProperties/Any(ep: ep/id eq '{LINK_ID}' and "
                f"ep/value eq 'SELL-{marker}')",
                expand=[f"singleValueExtendedProperties($filter=id eq '{LINK_ID}')"],
            )
        )
        found = await contacts.get(request_configuration=config)
        created = await contacts.post(
            GraphContact(
                given_name="Linked",
                surname=f"Graph-{marker}",
                single_value_extended_properties=[
                    SingleValueLegacyExtendedProperty(id=LINK_ID, value=f"graph-{marker}")
                ],
            )
        )
        return found.value, created

    found, created = run(graph_side())
    assert [c.surname for c in found] == [f"Ews-{marker}"]
    props = found[0].single_value_extended_properties
    assert [(p.id, p.value) for p in props] == [(LINK_ID, f"sell-{marker}")]
    assert created.single_value_extended_properties is None  # POST does not echo it (§4)
    assert ews.contacts.get(surname=f"Graph-{marker}").sell_id == f"graph-{marker}"
    # the Name part is case-sensitive: another name is another property
    other = LINK_ID.replace("SellId", "sellid")
    token = app_token(sandbox)
    resp = http_session(sandbox).get(
        f"{sandbox.base_url}/v1.0/users/{USER}/contacts",
        params={
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{other}' and "
            f"ep/value eq 'graph-{marker}')"
        },
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.json()["value"] == []


@pytest.mark.spec("S13.1")
def test_business_fax_is_the_mapi_property_graph_reads_as_an_extended_property(sandbox, ews):
    """Graph v1.0 has no fax; PidTagBusinessFaxNumber (0x3A24) is EWS's BusinessFax."""
    marker = uuid.uuid4().hex[:8]
    Contact(
        folder=ews.contacts,
        display_name=f"Fax Ews-{marker}",
        given_name="Fax",
        surname=f"Ews-{marker}",
        phone_numbers=[PhoneNumber(label="BusinessFax", phone_number=f"+1 555 {marker}")],
    ).save()
    session, token = http_session(sandbox), app_token(sandbox)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{sandbox.base_url}/v1.0/users/{USER}/contacts"
    fax_id = "String 0x3a24"
    found = session.get(
        base,
        params={
            "$filter": f"singleValueExtendedProperties/Any(ep: ep/id eq '{fax_id}' and "
            f"ep/value eq '+1 555 {marker}')",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{fax_id}')",
        },
        headers=headers,
        timeout=10,
    ).json()["value"]
    assert [c["surname"] for c in found] == [f"Ews-{marker}"]
    assert found[0]["singleValueExtendedProperties"] == [
        {"id": fax_id, "value": f"+1 555 {marker}"}
    ]
    patched = session.patch(
        f"{base}/{found[0]['id']}",
        json={"singleValueExtendedProperties": [{"id": fax_id, "value": "+1 999"}]},
        headers=headers,
        timeout=10,
    )
    assert patched.status_code == 200
    item = ews.contacts.get(surname=f"Ews-{marker}")
    assert {p.label: p.phone_number for p in item.phone_numbers} == {"BusinessFax": "+1 999"}


def test_malformed_ids_and_properties(sandbox, ews):
    token = app_token(sandbox)
    headers = {"Authorization": f"Bearer {token}"}
    session = http_session(sandbox)
    ews_id = next(c for c in ews.contacts.all() if isinstance(c, Contact)).id
    resp = session.get(f"{sandbox.base_url}/v1.0/users/{USER}/contacts/{ews_id}", headers=headers)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "ErrorInvalidIdMalformed"
    bad_prop = session.get(
        f"{sandbox.base_url}/v1.0/users/{USER}/contacts",
        params={"$expand": "singleValueExtendedProperties($filter=id eq 'String SellId')"},
        headers=headers,
        timeout=10,
    )
    assert bad_prop.status_code == 400
    assert bad_prop.json()["error"]["code"] == "ErrorInvalidProperty"

    async def sdk_error():
        client = graph_client(sandbox)
        await client.users.by_user_id(USER).contacts.by_contact_id("AAMkAGnope").get()

    with pytest.raises(ODataError) as raised:
        run(sdk_error())
    assert raised.value.error.code == "ErrorInvalidIdMalformed"
    assert raised.value.response_status_code == 400
