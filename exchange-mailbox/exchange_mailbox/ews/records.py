"""exchangelib ``Contact`` → the ``contacts`` record (tap output; what target-exchange matches on).

``FETCH_FIELDS`` is what GetItem asks for: exactly the record's fields — never MIME content,
attachments or the other ~100 properties exchangelib would request by default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import lxml.html
from exchangelib import Contact, HTMLBody
from exchangelib.indexed_properties import PhoneNumber, PhysicalAddress
from singer_sdk import typing as th

from ..contact_records import DELETED_AT, deletion_record, is_deletion
from . import link_property

__all__ = [
    "DELETED_AT",
    "FETCH_FIELDS",
    "contact_schema",
    "contact_to_record",
    "deletion_record",
    "is_deletion",
    "iso",
    "matching_record",
]

PHONE_LABELS: tuple[str, ...] = tuple(PhoneNumber.LABEL_CHOICES)
ADDRESS_LABELS: tuple[str, ...] = tuple(PhysicalAddress.LABEL_CHOICES)

# record key → exchangelib field name, for the plain text fields.
TEXT_FIELDS: dict[str, str] = {
    "given_name": "given_name",
    "middle_name": "middle_name",
    "surname": "surname",
    "display_name": "display_name",
    "file_as": "file_as",
    "company_name": "company_name",
    "department": "department",
    "job_title": "job_title",
    "business_home_page": "business_homepage",
}

FETCH_FIELDS: tuple[str, ...] = (
    *TEXT_FIELDS.values(),
    "email_addresses",
    "phone_numbers",
    "physical_addresses",
    "body",
    "categories",
    "datetime_created",
    "last_modified_time",
    link_property.FIELD_NAME,
)

_address = th.ObjectType(
    th.Property("street", th.StringType),
    th.Property("city", th.StringType),
    th.Property("state", th.StringType),
    th.Property("country", th.StringType),
    th.Property("postal_code", th.StringType),
)


def contact_schema() -> th.PropertiesList:
    """Schema of a ``contacts`` record (deletions carry only id, folder_id, _sdc_deleted_at)."""
    return th.PropertiesList(
        th.Property("id", th.StringType, required=True, description="EWS item id"),
        th.Property("change_key", th.StringType),
        th.Property("folder_id", th.StringType, description="EWS id of the contact's folder"),
        th.Property("folder_path", th.StringType, description='e.g. "Contacts/Clients"'),
        *(th.Property(key, th.StringType) for key in TEXT_FIELDS if key != "business_home_page"),
        th.Property("email_address_1", th.StringType),
        th.Property("email_address_2", th.StringType),
        th.Property("email_address_3", th.StringType),
        th.Property(
            "phone_numbers",
            th.ObjectType(*(th.Property(label, th.StringType) for label in PHONE_LABELS)),
            description="EWS phone label → number",
        ),
        th.Property(
            "physical_addresses",
            th.ObjectType(*(th.Property(label, _address) for label in ADDRESS_LABELS)),
            description="Business/Home/Other → address",
        ),
        th.Property("business_home_page", th.StringType),
        th.Property("body", th.StringType, description="Notes, as plain text"),
        th.Property("categories", th.ArrayType(th.StringType)),
        th.Property("created_time", th.DateTimeType),
        th.Property("last_modified_time", th.DateTimeType),
        th.Property("sell_link", th.StringType, description='"contact:123" or "lead:45"'),
        th.Property(
            DELETED_AT,
            th.DateTimeType,
            description="Set only on deletion records (which carry just id and folder_id)",
        ),
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def body_text(body: str | None) -> str | None:
    """Notes as plain text: HTML bodies are reduced to their text content."""
    if body is None:
        return None
    if isinstance(body, HTMLBody) and body.strip():
        body = lxml.html.fromstring(str(body)).text_content()
    return _text(body)


def iso(value: dt.datetime | None) -> str | None:
    """UTC ISO 8601 with ``Z``; naive values are taken as UTC."""
    if value is None:
        return None
    # Rebuild a plain datetime: EWSDateTime.astimezone() only accepts EWSTimeZone objects.
    plain = dt.datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond,
    )  # fmt: skip
    offset = value.utcoffset() or dt.timedelta(0)
    return (plain - offset).replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def _emails(entries: Iterable[Any] | None) -> dict[str, str | None]:
    by_label = {e.label: _text(e.email) for e in entries or ()}
    return {f"email_address_{n}": by_label.get(f"EmailAddress{n}") for n in (1, 2, 3)}


def _phones(entries: Iterable[Any] | None) -> dict[str, str]:
    return {e.label: text for e in entries or () if (text := _text(e.phone_number))}


def _addresses(entries: Iterable[Any] | None) -> dict[str, dict[str, str | None]]:
    result = {}
    for entry in entries or ():
        address = {
            "street": _text(entry.street),
            "city": _text(entry.city),
            "state": _text(entry.state),
            "country": _text(entry.country),
            "postal_code": _text(entry.zipcode),
        }
        if any(address.values()):
            result[entry.label] = address
    return result


def contact_to_record(contact: Contact, *, folder_id: str, folder_path: str) -> dict[str, Any]:
    """One ``contacts`` record; empty strings become None so both sides compare alike."""
    record: dict[str, Any] = {
        "id": contact.id,
        "change_key": contact.changekey,
        "folder_id": folder_id,
        "folder_path": folder_path,
    }
    for key, field in TEXT_FIELDS.items():
        record[key] = _text(getattr(contact, field, None))
    record.update(_emails(contact.email_addresses))
    record["phone_numbers"] = _phones(contact.phone_numbers)
    record["physical_addresses"] = _addresses(contact.physical_addresses)
    record["body"] = body_text(contact.body)
    record["categories"] = [c for c in (contact.categories or []) if _text(c)]
    record["created_time"] = iso(contact.datetime_created)
    record["last_modified_time"] = iso(contact.last_modified_time)
    record["sell_link"] = _text(getattr(contact, link_property.FIELD_NAME, None))
    return record


MATCHING_FIELDS: tuple[str, ...] = (
    "given_name",
    "surname",
    "display_name",
    "company_name",
    "file_as",
    "email_addresses",
    "phone_numbers",
    "categories",
    "last_modified_time",
    link_property.FIELD_NAME,
)
"""What ``matching_record`` reads: the fields S4 matches on, and the link."""


def matching_record(contact: Contact) -> dict[str, Any]:
    """The part of a ``contacts`` record matching reads (``MATCHING_FIELDS`` fetched)."""
    emails = {e.label: _text(e.email) for e in contact.email_addresses or ()}
    return {
        "id": contact.id,
        "given_name": _text(contact.given_name),
        "surname": _text(contact.surname),
        "display_name": _text(contact.display_name),
        "company_name": _text(contact.company_name),
        "file_as": _text(contact.file_as),
        **{f"email_address_{n}": emails.get(f"EmailAddress{n}") for n in (1, 2, 3)},
        "phone_numbers": _phones(contact.phone_numbers),
        "categories": [c for c in (contact.categories or []) if _text(c)],
        "last_modified_time": iso(contact.last_modified_time),
        "sell_link": _text(getattr(contact, link_property.FIELD_NAME, None)),
    }
