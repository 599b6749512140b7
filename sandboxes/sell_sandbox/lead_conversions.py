"""Lead conversions (resource page D-lc, ``sales-crm/resources/lead-conversions``).

``POST /v2/lead_conversions`` turns a lead into a person contact (when it has a ``last_name``) and
an organisation contact (when it has an ``organization_name``; an existing organisation of exactly
that name is joined instead), and with ``create_deal`` into an incoming deal on the new contact.
``GET /v2/lead_conversions`` lists the immutable conversion records newest first (id descending),
paged by ``page`` (at most 50) or by the ``cursor`` its ``next_page`` link carries.

What happens to the lead afterwards is not documented: ``removed`` (the default: gone like a
deleted lead, its notes moved to the new contact) or ``kept`` (left exactly as it was), chosen by
``--converted-leads``. Every choice the page leaves open is listed in sandboxes/README.md.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from yarl import URL

from sell_sandbox.account import Account
from sell_sandbox.errors import ErrorItem, SellError, invalid_param, malformed_param, resource_error
from sell_sandbox.listing import parse_list_query
from sell_sandbox.resources import ADDRESS_KEYS, CONTACT, DEAL, LEAD, LEAD_CONVERSION, NOTE

CONVERTED_LEADS = ("removed", "kept")
#: "The usage of the page param is limited up to number 50" (D-lc); further records need cursors.
MAX_PAGE = 50
#: Body attributes of ``POST`` (reference §4, CDS; the resource page's table lists the record only).
REQUEST_ATTRS = ("lead_id", "owner_id", "create_deal")
#: Lead attributes a new contact takes over unchanged (the lead's own custom fields do not carry).
PARTY_FIELDS = (
    "title",
    "description",
    "industry",
    "website",
    "email",
    "phone",
    "mobile",
    "fax",
    "twitter",
    "facebook",
    "linkedin",
    "skype",
)
_CURSOR_PREFIX = "lead_conversions:before:"


@dataclass(frozen=True)
class ConversionRequest:
    lead: dict
    owner_id: int | None
    create_deal: bool


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_request(account: Account, data: dict) -> ConversionRequest:
    """The checked body, or 422 listing every problem (like ``validation.validate``)."""
    errors: list[ErrorItem] = []

    def add(pointer: str, code: str, details: str) -> None:
        errors.append(resource_error(LEAD_CONVERSION.name, pointer, code, details))

    for attr in data:
        if attr not in REQUEST_ATTRS:
            kind = "read-only" if attr in LEAD_CONVERSION.attrs else "not a known attribute"
            add(f"/{attr}", "unknown", f"The attribute '/{attr}' is {kind} for a lead conversion.")
    lead_id = data.get("lead_id")
    lead = None
    if "lead_id" not in data:
        add("/lead_id", "missing", "The attribute '/lead_id' is required.")
    elif not _is_int(lead_id):
        add("/lead_id", "invalid_type", "The attribute '/lead_id' must be an integer.")
    elif lead_id in account.conversion_of_lead:
        add(
            "/lead_id",
            "already_exists",
            f"The lead '{lead_id}' has already been converted (lead conversion"
            f" '{account.conversion_of_lead[lead_id]}').",
        )
    else:
        lead = account.get(LEAD, lead_id)
        if lead is None:
            add(
                "/lead_id",
                "incorrect_value",
                "The attribute '/lead_id' must reference an existing lead.",
            )
    owner_id = data.get("owner_id")
    if owner_id is not None and not _is_int(owner_id):
        add("/owner_id", "invalid_type", "The attribute '/owner_id' must be an integer.")
    create_deal = data.get("create_deal", True)
    if not isinstance(create_deal, bool):
        add("/create_deal", "invalid_type", "The attribute '/create_deal' must be a boolean.")
    if errors:
        raise SellError(422, errors)
    assert lead is not None
    return ConversionRequest(lead, owner_id, create_deal)


def _organization_named(account: Account, name: str) -> dict | None:
    """The oldest organisation contact of exactly this name, if any."""
    same = [
        c
        for c in account.tables[CONTACT.path].values()
        if c["is_organization"] and c.get("name") == name
    ]
    return min(same, key=lambda c: c["id"]) if same else None


def convert(account: Account, request: ConversionRequest) -> dict:
    """Make the contacts (and deal) of a conversion and record it; the lead is left alone."""
    lead = request.lead
    owner = request.owner_id if request.owner_id is not None else lead["owner_id"]
    details: dict = {k: lead[k] for k in PARTY_FIELDS if not _blank(lead.get(k))}
    address = lead.get("address") or {}
    if any(address.get(k) is not None for k in ADDRESS_KEYS):
        details["address"] = dict(address)
    if lead.get("tags"):
        details["tags"] = list(lead["tags"])
    has_person = not _blank(lead.get("last_name"))
    organization = None
    if not _blank(lead.get("organization_name")):
        name = lead["organization_name"]
        organization = _organization_named(account, name)
        if organization is None:
            values = {"is_organization": True, "name": name, "owner_id": owner}
            if not has_person:  # a company lead: the organisation is the contact it becomes
                values.update(details)
            organization = account.create(CONTACT, values)
    person = None
    if has_person:
        values = {"last_name": lead["last_name"], "owner_id": owner, **details}
        if not _blank(lead.get("first_name")):
            values["first_name"] = lead["first_name"]
        if organization is not None:
            values["contact_id"] = organization["id"]
        person = account.create(CONTACT, values)
    deal = None
    if request.create_deal:
        primary = person or organization
        assert primary is not None  # a lead has a last_name or an organization_name
        deal = account.create(
            DEAL,
            {
                "name": lead.get("organization_name") or primary["name"],
                "contact_id": primary["id"],
                "owner_id": owner,
                "stage_id": account.first_stage_id(),
            },
        )
    conversion = {
        "id": account.new_id(),
        "lead_id": lead["id"],
        "individual_id": person["id"] if person else None,
        "organization_id": organization["id"] if organization else None,
        "deal_id": deal["id"] if deal else None,
        "creator_id": account.self_user["id"],
        "created_at": account.clock.tick(),
    }
    account.lead_conversions[conversion["id"]] = conversion
    account.conversion_of_lead[lead["id"]] = conversion["id"]
    return conversion


def remove_converted_lead(account: Account, lead: dict, conversion: dict) -> None:
    """``--converted-leads removed``: the lead goes as if deleted; its notes follow the contact.

    The caller records the Sync API tombstone first (``sync_api.note_deleted``).
    """
    target = conversion["individual_id"] or conversion["organization_id"]
    notes = account.tables[NOTE.path]
    for note in [n for n in notes.values() if n["resource_id"] == lead["id"]]:
        if note["resource_type"] == LEAD.name:
            account.update(NOTE, note, {"resource_type": CONTACT.name, "resource_id": target})
    account.delete(LEAD, lead)


def _encode_cursor(before_id: int) -> str:
    raw = f"{_CURSOR_PREFIX}{before_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX):
            raise ValueError(raw)
        return int(raw[len(_CURSOR_PREFIX) :])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise malformed_param(
            "cursor", "must be the cursor of a next_page link of this list"
        ) from None


def list_page(account: Account, query: Mapping[str, str], url: URL) -> dict:
    """One page of the collection envelope (reference §2.2), by ``page`` or by ``cursor``."""
    if "sort_by" in query:
        raise invalid_param(
            "The request query parameter 'sort_by' is not supported by the 'lead_conversions'"
            " list (it is sorted by id, descending)."
        )
    cursor = query.get("cursor")
    if cursor is not None and "page" in query:
        raise invalid_param("The request query parameters 'page' and 'cursor' exclude each other.")
    rest = {name: value for name, value in query.items() if name != "cursor"}
    parsed = parse_list_query(rest, LEAD_CONVERSION, account)
    if parsed.page > MAX_PAGE:
        raise malformed_param(
            "page",
            f"must be between 1 and {MAX_PAGE}, given: {parsed.page}; use the cursor of the"
            " next_page link for further records",
        )
    selected = parsed.select(account.lead_conversions.values())
    if cursor is not None:
        before = _decode_cursor(cursor)
        selected = [r for r in selected if r["id"] < before]
        start = 0
    else:
        start = (parsed.page - 1) * parsed.per_page
    page_items = selected[start : start + parsed.per_page]
    base = url.with_query({k: v for k, v in url.query.items() if k not in ("page", "cursor")})
    per_page = str(parsed.per_page)
    links = {"self": str(url), "first_page": str(base.update_query(page="1", per_page=per_page))}
    if cursor is None and parsed.page > 1:
        prev = str(parsed.page - 1)
        links["prev_page"] = str(base.update_query(page=prev, per_page=per_page))
    if page_items and start + parsed.per_page < len(selected):
        next_cursor = _encode_cursor(page_items[-1]["id"])
        links["next_page"] = str(base.update_query(cursor=next_cursor, per_page=per_page))
    items = [{"data": dict(r), "meta": {"type": LEAD_CONVERSION.name}} for r in page_items]
    meta = {"type": "collection", "count": len(items), "links": links}
    return {"items": items, "meta": meta}
