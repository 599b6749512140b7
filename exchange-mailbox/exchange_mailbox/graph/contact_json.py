"""Graph's ``contact`` JSON ⇄ the ``contacts`` record EWS yields, and contact writes over Graph.

The record has exactly the shape of ``ews.records.contact_to_record`` (same keys, EWS phone and
address labels, plain-text notes, UTC times with ``Z``), so the tap and both targets need no
change for Graph (S13.1). Graph names the same MAPI properties differently:

| record | Graph |
|---|---|
| email_address_1..3 | primary/secondary/tertiaryEmailAddress (the slots), else ``emailAddresses`` |
| phone_numbers BusinessPhone(2), HomePhone(2) | businessPhones, homePhones |
| phone_numbers MobilePhone | mobilePhone |
| phone_numbers BusinessFax | extended property ``String 0x3a24`` (PidTagBusinessFaxNumber; v1.0 |
| | has no fax property) |
| physical_addresses Business/Home/Other | businessAddress/homeAddress/otherAddress |
| body | personalNotes |
| sell_link | extended property ``SELL_LINK``, the one EWS writes (S13.2) |

Writes: ``GraphContact`` is the write-side item (what exchangelib's ``Contact`` is over EWS); its
``changes`` become the POST/PATCH body. Graph takes at most 3 e-mail addresses and 2 business
phones (reference §0.6): ``cap_problems`` names any value beyond them, so the writer rejects the
item with that reason instead of letting a value drop silently (S10.1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..interface import GRAPH_ID_PREFIX, SELL_LINK, ForeignIdError, LinkProperty

SELECT_FIELDS: tuple[str, ...] = (
    "id",
    "changeKey",
    "parentFolderId",
    "createdDateTime",
    "lastModifiedDateTime",
    "categories",
    "givenName",
    "middleName",
    "surname",
    "displayName",
    "fileAs",
    "companyName",
    "department",
    "jobTitle",
    "businessHomePage",
    "emailAddresses",
    "primaryEmailAddress",
    "secondaryEmailAddress",
    "tertiaryEmailAddress",
    "businessPhones",
    "homePhones",
    "mobilePhone",
    "businessAddress",
    "homeAddress",
    "otherAddress",
    "personalNotes",
)
"""What a read asks for: the record's fields and the item's version, nothing else."""

SELECT = ",".join(SELECT_FIELDS)
MATCHING_SELECT = ",".join(
    (
        "id",
        "parentFolderId",
        "lastModifiedDateTime",
        "categories",
        "givenName",
        "surname",
        "displayName",
        "fileAs",
        "companyName",
        "emailAddresses",
        "primaryEmailAddress",
        "secondaryEmailAddress",
        "tertiaryEmailAddress",
        "businessPhones",
        "homePhones",
        "mobilePhone",
    )
)
"""What a matching pass asks for (``Mailbox.matching_records``)."""

# record key → Graph property, for the plain text fields (as ``ews.records.TEXT_FIELDS``).
TEXT_FIELDS: dict[str, str] = {
    "given_name": "givenName",
    "middle_name": "middleName",
    "surname": "surname",
    "display_name": "displayName",
    "file_as": "fileAs",
    "company_name": "companyName",
    "department": "department",
    "job_title": "jobTitle",
    "business_home_page": "businessHomePage",
}
# exchangelib attribute names (what ``to_exchange_fields`` produces) → Graph property.
WRITE_FIELDS: dict[str, str] = {
    "given_name": "givenName",
    "middle_name": "middleName",
    "surname": "surname",
    "display_name": "displayName",
    "file_as": "fileAs",
    "company_name": "companyName",
    "department": "department",
    "job_title": "jobTitle",
    "business_homepage": "businessHomePage",
    "body": "personalNotes",
}
EMAIL_SLOTS = ("primaryEmailAddress", "secondaryEmailAddress", "tertiaryEmailAddress")
EMAIL_LABELS = ("EmailAddress1", "EmailAddress2", "EmailAddress3")
PHONE_LISTS = {
    "businessPhones": ("BusinessPhone", "BusinessPhone2"),
    "homePhones": ("HomePhone", "HomePhone2"),
}
ADDRESSES = {"Business": "businessAddress", "Home": "homeAddress", "Other": "otherAddress"}
# record / exchangelib address keys → Graph physicalAddress keys.
ADDRESS_PARTS = {
    "street": "street",
    "city": "city",
    "state": "state",
    "country": "countryOrRegion",
    "postal_code": "postalCode",
    "zipcode": "postalCode",
}
CAPS = {"emailAddresses": 3, "businessPhones": 2}


def property_id(prop: LinkProperty) -> str:
    """Graph's id of a MAPI named property: ``String {guid} Name SellLink``."""
    return f"{prop.type} {{{prop.property_set_id}}} Name {prop.name}"


LINK_ID = property_id(SELL_LINK)
FAX_ID = "String 0x3a24"
"""PidTagBusinessFaxNumber (MS-OXPROPS 0x3A24, PT_UNICODE): EWS's ``BusinessFax`` phone."""
EXTENDED_IDS = (LINK_ID, FAX_ID)
EXPAND = (
    "singleValueExtendedProperties($filter="
    + " or ".join(f"id eq '{i}'" for i in EXTENDED_IDS)
    + ")"
)


def qualified(graph_id: str) -> str:
    """The id the mailbox hands out for Graph's id (``interface.id_protocol``)."""
    return GRAPH_ID_PREFIX + graph_id


def graph_id(item_id: str) -> str:
    """Graph's own id of an id the mailbox handed out; another protocol's id is refused."""
    if not item_id.startswith(GRAPH_ID_PREFIX):
        raise ForeignIdError(item_id, "graph")
    return item_id[len(GRAPH_ID_PREFIX) :]


def extended_values(contact: Mapping[str, Any]) -> dict[str, str]:
    """The expanded extended properties by our ids (Graph may spell ids in another case)."""
    wanted = {i.casefold(): i for i in EXTENDED_IDS}
    out: dict[str, str] = {}
    for entry in contact.get("singleValueExtendedProperties") or ():
        key = wanted.get(str(entry.get("id", "")).casefold())
        if key is not None and entry.get("value") is not None:
            out[key] = str(entry["value"])
    return out


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def iso(value: str | None) -> str | None:
    """Graph's DateTimeOffset as the EWS records write it: UTC, seconds, ``Z``."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def email_slots(contact: Mapping[str, Any]) -> list[str | None]:
    """EmailAddress1..3. The slot properties say which slot holds what; a service that does not
    return them gives the list, whose order is the slots' order without the empty ones."""
    if any(slot in contact for slot in EMAIL_SLOTS):
        return [_text((contact.get(slot) or {}).get("address")) for slot in EMAIL_SLOTS]
    listed = [_text(e.get("address")) for e in contact.get("emailAddresses") or ()]
    listed = [e for e in listed if e]
    return [*listed, None, None, None][:3]


def phone_numbers(contact: Mapping[str, Any], extended: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for prop, labels in PHONE_LISTS.items():
        values = [v for v in (_text(p) for p in contact.get(prop) or ()) if v]
        out.update(zip(labels, values, strict=False))
    if mobile := _text(contact.get("mobilePhone")):
        out["MobilePhone"] = mobile
    if fax := _text(extended.get(FAX_ID)):
        out["BusinessFax"] = fax
    return out


def physical_addresses(contact: Mapping[str, Any]) -> dict[str, dict[str, str | None]]:
    out = {}
    for label, prop in ADDRESSES.items():
        graph = contact.get(prop) or {}
        address = {
            key: _text(graph.get(part)) for key, part in ADDRESS_PARTS.items() if key != "zipcode"
        }
        if any(address.values()):
            out[label] = address
    return out


def contact_to_record(
    contact: Mapping[str, Any], *, folder_id: str, folder_path: str
) -> dict[str, Any]:
    """One ``contacts`` record, key for key as ``ews.records.contact_to_record`` makes it."""
    extended = extended_values(contact)
    record: dict[str, Any] = {
        "id": qualified(contact["id"]) if contact.get("id") else None,
        "change_key": contact.get("changeKey"),
        "folder_id": folder_id,
        "folder_path": folder_path,
    }
    for key, prop in TEXT_FIELDS.items():
        record[key] = _text(contact.get(prop))
    for n, address in enumerate(email_slots(contact), start=1):
        record[f"email_address_{n}"] = address
    record["phone_numbers"] = phone_numbers(contact, extended)
    record["physical_addresses"] = physical_addresses(contact)
    record["body"] = _text(contact.get("personalNotes"))
    record["categories"] = [c for c in contact.get("categories") or () if _text(c)]
    record["created_time"] = iso(contact.get("createdDateTime"))
    record["last_modified_time"] = iso(contact.get("lastModifiedDateTime"))
    record["sell_link"] = _text(extended.get(LINK_ID))
    return record


# -- writes ----------------------------------------------------------------------------------
@dataclass
class GraphContact:
    """A contact to create (``id`` None) or update, as the writer sends it.

    ``data`` is the contact as read (with the extended properties expanded); ``changes`` the
    body to send: Graph property → value, extended properties by id in ``extended``."""

    id: str | None = None
    change_key: str | None = None
    folder_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)
    extended: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def from_json(cls, contact: Mapping[str, Any]) -> GraphContact:
        return cls(
            id=contact.get("id"),
            change_key=contact.get("changeKey"),
            folder_id=contact.get("parentFolderId"),
            data=dict(contact),
        )

    def current(self, prop: str) -> Any:
        return self.changes[prop] if prop in self.changes else self.data.get(prop)

    def current_extended(self, prop_id: str) -> str | None:
        if prop_id in self.extended:
            return self.extended[prop_id]
        return extended_values(self.data).get(prop_id)

    def body(self) -> dict[str, Any]:
        """The POST/PATCH body: only what changed."""
        out = dict(self.changes)
        if self.extended:
            out["singleValueExtendedProperties"] = [
                {"id": key, "value": value} for key, value in self.extended.items()
            ]
        return out

    def record(self, *, folder_path: str = "") -> dict[str, Any]:
        """The item as a ``contacts`` record, pending changes included."""
        merged = {**self.data, **self.changes, "id": self.id, "changeKey": self.change_key}
        extended = {**extended_values(self.data), **self.extended}
        merged["singleValueExtendedProperties"] = [
            {"id": k, "value": v} for k, v in extended.items() if v is not None
        ]
        if "emailAddresses" in self.changes:  # the list written decides the slots
            for slot in EMAIL_SLOTS:
                merged.pop(slot, None)
        elif any(slot in self.changes for slot in EMAIL_SLOTS):
            merged.pop("emailAddresses", None)
        return contact_to_record(merged, folder_id=self.folder_id or "", folder_path=folder_path)


def _graph_address(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not value:
        return None
    out = {ADDRESS_PARTS[k]: v for k, v in value.items() if k in ADDRESS_PARTS and k != "label"}
    return {k: v for k, v in out.items() if v} or None


def apply_fields(item: GraphContact, fields: Mapping[str, Any]) -> list[str]:
    """Set ``fields`` (``contact_mapping.exchange_map.to_exchange_fields``: exchangelib names,
    indexed properties by EWS label) on ``item``; labels not named keep their values (S5.4).
    Returns the names touched, as ``ews`` ``apply_fields`` does."""
    touched: list[str] = []
    for name, value in fields.items():
        if name in WRITE_FIELDS:
            item.changes[WRITE_FIELDS[name]] = value
        elif name == "email_addresses":
            _apply_emails(item, value)
        elif name == "phone_numbers":
            _apply_phones(item, value)
        elif name == "physical_addresses":
            for label, address in value.items():
                if label in ADDRESSES:
                    item.changes[ADDRESSES[label]] = _graph_address(address) or {}
        elif name == "categories":
            item.changes["categories"] = list(value or ())
        elif name == SELL_LINK_FIELD:
            item.extended[LINK_ID] = value
        else:
            msg = f"no Graph property for contact field {name!r}"
            raise KeyError(msg)
        touched.append(name)
    return touched


SELL_LINK_FIELD = "sell_link"


def _apply_emails(item: GraphContact, emails: Mapping[str, Any]) -> None:
    """Where the service shows the slot properties, only the slots named are written (a cleared
    EmailAddress1 stays empty); else the whole list, in slot order (an emptied slot closes up)."""
    unknown = set(emails) - set(EMAIL_LABELS)
    if unknown:
        msg = f"Graph has no e-mail slots {sorted(unknown)}"
        raise KeyError(msg)
    names = {
        str(e.get("address", "")).casefold(): e.get("name")
        for e in item.data.get("emailAddresses") or ()
    }

    def entry(address: str | None) -> dict[str, Any] | None:
        if not address:
            return None
        return {"address": address, "name": names.get(address.casefold()) or address}

    if any(slot in item.data for slot in EMAIL_SLOTS):
        for label, address in emails.items():
            item.changes[EMAIL_SLOTS[EMAIL_LABELS.index(label)]] = entry(address)
        return
    slots = email_slots({**item.data, **item.changes})
    for label, address in emails.items():
        slots[EMAIL_LABELS.index(label)] = address
    item.changes["emailAddresses"] = [e for e in (entry(a) for a in slots) if e]


def _apply_phones(item: GraphContact, phones: Mapping[str, Any]) -> None:
    for prop, labels in PHONE_LISTS.items():
        if not any(label in phones for label in labels):
            continue
        current = [p for p in item.current(prop) or () if p]
        slots = [*current, None, None][: max(len(labels), len(current))]
        for index, label in enumerate(labels):
            if label in phones:
                slots[index] = phones[label]
        item.changes[prop] = [p for p in slots if p]
    if "MobilePhone" in phones:
        item.changes["mobilePhone"] = phones["MobilePhone"]
    if "BusinessFax" in phones:
        item.extended[FAX_ID] = phones["BusinessFax"]
    unknown = set(phones) - {*PHONE_LISTS["businessPhones"], *PHONE_LISTS["homePhones"]}
    unknown -= {"MobilePhone", "BusinessFax"}
    if unknown:
        msg = f"Graph has no contact property for the phone labels {sorted(unknown)}"
        raise KeyError(msg)


def cap_problems(body: Mapping[str, Any]) -> list[str]:
    """Values a body holds beyond Graph's caps (3 e-mail addresses, 2 business phones)."""
    problems = []
    for prop, cap in CAPS.items():
        values: Iterable[Any] = body.get(prop) or ()
        values = list(values)
        if len(values) > cap:
            extra = [v.get("address") if isinstance(v, Mapping) else v for v in values[cap:]]
            problems.append(
                f"{prop}: Microsoft Graph keeps at most {cap}; not written: "
                + ", ".join(str(e) for e in extra)
            )
    return problems
