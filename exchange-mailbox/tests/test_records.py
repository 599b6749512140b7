"""exchange_mailbox.ews.records and link_property: the contacts record shape."""

from __future__ import annotations

import datetime as dt

import pytest
from exchange_mailbox.ews import link_property
from exchange_mailbox.ews.records import (
    FETCH_FIELDS,
    contact_schema,
    contact_to_record,
    deletion_record,
    is_deletion,
)
from exchangelib import UTC, Contact, EWSDateTime, HTMLBody
from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress
from exchangelib.properties import ItemId
from exchangelib.version import Build, Version
from lxml import etree

RECORD_KEYS = {
    "id", "change_key", "folder_id", "folder_path", "given_name", "middle_name", "surname",
    "display_name", "file_as", "company_name", "department", "job_title", "email_address_1",
    "email_address_2", "email_address_3", "phone_numbers", "physical_addresses",
    "business_home_page", "body", "categories", "created_time", "last_modified_time", "sell_link",
}  # fmt: skip


def make_contact() -> Contact:
    contact = Contact(
        given_name="Ada",
        middle_name=" ",
        surname="Lovelace",
        display_name="Ada Lovelace",
        file_as="Lovelace, Ada",
        company_name="Analytical",
        department="R&D",
        job_title="Engineer",
        email_addresses=[
            EmailAddress(label="EmailAddress1", email="ada@example.com"),
            EmailAddress(label="EmailAddress3", email="ada@home.example"),
        ],
        phone_numbers=[
            PhoneNumber(label="BusinessPhone", phone_number="+44 20 7946 0000"),
            PhoneNumber(label="MobilePhone", phone_number="+44 7700 900000"),
            PhoneNumber(label="HomePhone", phone_number=""),
        ],
        physical_addresses=[
            PhysicalAddress(label="Business", street="1 Main St", city="London", zipcode="N1"),
            PhysicalAddress(label="Home"),
        ],
        business_homepage="https://analytical.example",
        body=HTMLBody("<html><body><p>Met at <b>RSA</b></p></body></html>"),
        categories=["Clients", "VIP"],
        datetime_created=EWSDateTime(2024, 1, 1, 12, 0, tzinfo=UTC),
        last_modified_time=EWSDateTime(2024, 2, 1, 8, 30, tzinfo=UTC),
        sell_link="contact:123",
    )
    contact._id = ItemId(id="AAMk-1", changekey="CQAAAB")
    return contact


@pytest.mark.spec("S8")
def test_contact_to_record_shape_and_values() -> None:
    record = contact_to_record(make_contact(), folder_id="F1", folder_path="Contacts/Clients")
    assert set(record) == RECORD_KEYS
    assert record["id"] == "AAMk-1"
    assert record["change_key"] == "CQAAAB"
    assert record["folder_path"] == "Contacts/Clients"
    assert record["middle_name"] is None  # blank strings become None
    assert record["email_address_1"] == "ada@example.com"
    assert record["email_address_2"] is None
    assert record["email_address_3"] == "ada@home.example"
    assert record["phone_numbers"] == {
        "BusinessPhone": "+44 20 7946 0000",
        "MobilePhone": "+44 7700 900000",
    }
    assert record["physical_addresses"] == {
        "Business": {
            "street": "1 Main St",
            "city": "London",
            "state": None,
            "country": None,
            "postal_code": "N1",
        }
    }
    assert record["business_home_page"] == "https://analytical.example"
    assert record["body"] == "Met at RSA"
    assert record["categories"] == ["Clients", "VIP"]
    assert record["created_time"] == "2024-01-01T12:00:00Z"
    assert record["last_modified_time"] == "2024-02-01T08:30:00Z"
    assert record["sell_link"] == "contact:123"


def test_schema_matches_record_keys_plus_deletion_marker() -> None:
    props = contact_schema().to_dict()["properties"]
    assert set(props) == RECORD_KEYS | {"_sdc_deleted_at"}
    assert props["last_modified_time"]["format"] == "date-time"
    assert set(props["physical_addresses"]["properties"]) == {"Business", "Home", "Other"}
    assert "MobilePhone" in props["phone_numbers"]["properties"]


@pytest.mark.spec("S6")
def test_deletion_record() -> None:
    rec = deletion_record("X", folder_id="F", deleted_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert rec == {"id": "X", "folder_id": "F", "_sdc_deleted_at": "2025-01-01T00:00:00Z"}
    assert is_deletion(rec)
    assert not is_deletion({"id": "X"})


@pytest.mark.spec("S9")
def test_fetch_fields_are_only_what_the_record_needs() -> None:
    assert "mime_content" not in FETCH_FIELDS
    assert "attachments" not in FETCH_FIELDS
    assert len(FETCH_FIELDS) == 17
    for name in FETCH_FIELDS:
        Contact.get_field_by_fieldname(name)  # raises for an unknown name


@pytest.mark.spec("S13.2")
def test_link_property_is_registered_once_with_fixed_identity() -> None:
    link_property.register()
    link_property.register()
    field = Contact.get_field_by_fieldname("sell_link")
    assert field.value_cls is link_property.SellLink
    assert field.value_cls.property_set_id == link_property.PROPERTY_SET_ID
    version = Version(build=Build(15, 1, 2507, 6))
    elem = field.to_xml(make_contact().sell_link, version=version)
    xml = etree.tostring(elem).decode()
    assert 'PropertyName="SellLink"' in xml
    assert link_property.PROPERTY_SET_ID in xml
    assert "contact:123" in xml


@pytest.mark.spec("S13.2")
def test_link_format_and_parse() -> None:
    assert link_property.format_link("lead", "45") == "lead:45"
    assert link_property.parse_link("contact:123") == ("contact", 123)
    assert link_property.parse_link("deal:1") is None
    assert link_property.parse_link(None) is None
