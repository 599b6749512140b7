"""Field maps (SPEC S8) and normalisation: round trips are stable, values normalise once."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from contact_mapping import (
    MAPPED_FIELDS,
    Canonical,
    fingerprint,
    from_exchange,
    from_sell_contact,
    from_sell_lead,
    merge_indexed,
    normalize_email,
    normalize_phone,
    normalize_text,
    sell_company_change,
    to_exchange_fields,
    to_sell_contact_payload,
    to_sell_lead_payload,
)
from contact_mapping.exchange_map import ADDRESS_EXCHANGELIB_KEYS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])

tricky_text = st.sampled_from(
    ["", "  ", "Ann", " Ann ", "e\u0301cole", "\u00e9cole", "a\r\nb", "line\n", "Ünïcødé", "\t x"]
)
texts = st.one_of(st.none(), tricky_text, st.text(max_size=12))
phones = st.one_of(
    st.none(),
    st.sampled_from(
        ["(202) 555-0143", "+44 20 7946 0958", "202.555.0199 x12", "555-0143", "abc", "", " +1 "]
    ),
    st.from_regex(r"\+?[0-9 ()\-.]{0,14}", fullmatch=True),
)
emails = st.one_of(
    st.none(), st.emails(), st.sampled_from([" Ann@X.com ", "bad@@x", "STRASSE@x.de", "İx@y.tr"])
)


# -- normalisation --------------------------------------------------------------------------------
@pytest.mark.spec("S4.1")
@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), ("", None), ("   ", None), (" e\u0301 ", "\u00e9"), ("a\r\nb\rc", "a\nb\nc")],
)
def test_normalize_text(raw: str | None, expected: str | None) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.spec("S4.1")
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(202) 555-0143", "+12025550143"),
        ("+1 202-555-0143 ext. 12", "+12025550143 ext. 12"),
        ("+44 20 7946 0958", "+442079460958"),
        ("555-0143", "555-0143"),  # not a valid number: kept as typed
        ("  ", None),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw, "US") == expected


@pytest.mark.spec("S4.1")
def test_phone_region_setting_changes_the_reading() -> None:
    assert normalize_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalize_phone("020 7946 0958", "US") == "020 7946 0958"


@pytest.mark.spec("S7.1")
@given(texts)
def test_text_normalisation_is_idempotent(value: str | None) -> None:
    once = normalize_text(value)
    assert normalize_text(once) == once


@pytest.mark.spec("S7.1")
@given(emails)
def test_email_normalisation_is_idempotent(value: str | None) -> None:
    once = normalize_email(value)
    assert normalize_email(once) == once


@pytest.mark.spec("S7.1")
@given(phones)
def test_phone_normalisation_is_idempotent(value: str | None) -> None:
    once = normalize_phone(value)
    assert normalize_phone(once) == once


@pytest.mark.spec("S8")
def test_invalid_email_is_kept_and_reported() -> None:
    c = from_exchange({"surname": "X", "email_address_1": " Bad@@Example.com "})
    assert c.email == "bad@@example.com"
    assert any("bad@@example.com" in p for p in c.problems())
    assert from_exchange({"surname": "X", "email_address_1": "ok@example.com"}).problems() == []


# -- fingerprint -----------------------------------------------------------------------------------
@pytest.mark.spec("S7.1")
@given(st.dictionaries(st.sampled_from(MAPPED_FIELDS), texts), st.randoms())
def test_fingerprint_ignores_key_order(values: dict[str, Any], rnd: Any) -> None:
    items = list(values.items())
    rnd.shuffle(items)
    assert fingerprint(dict(items)) == fingerprint(values)


@pytest.mark.spec("S7.1")
def test_fingerprint_sees_every_mapped_field_and_phone_format_not() -> None:
    base = {f: f"v-{f}" for f in MAPPED_FIELDS}
    prints = {fingerprint({**base, f: "other"}) for f in MAPPED_FIELDS}
    assert len(prints) == len(MAPPED_FIELDS)
    assert fingerprint(base) not in prints
    assert fingerprint({"work_phone": "+1 202 555 0143"}) == fingerprint(
        {"work_phone": "+12025550143"}
    )
    assert fingerprint({"notes": "a"}) == fingerprint({"notes": "a", "unknown_key": "x"})


# -- Exchange --------------------------------------------------------------------------------------
def exchange_after_write(record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """What tap-exchange-contacts would emit after exchangelib saved ``fields`` on ``record``."""
    out = copy.deepcopy(record)
    plain = {
        "given_name": "given_name",
        "surname": "surname",
        "display_name": "display_name",
        "file_as": "file_as",
        "company_name": "company_name",
        "job_title": "job_title",
        "business_homepage": "business_home_page",
        "body": "body",
    }
    for attr, key in plain.items():
        if attr in fields:
            out[key] = fields[attr]
    if "email_addresses" in fields:
        out["email_address_1"] = fields["email_addresses"]["EmailAddress1"]
    phones = dict(out.get("phone_numbers") or {})
    for label, value in (fields.get("phone_numbers") or {}).items():
        if value is None:
            phones.pop(label, None)
        else:
            phones[label] = value
    out["phone_numbers"] = phones
    addresses = dict(out.get("physical_addresses") or {})
    for label, value in (fields.get("physical_addresses") or {}).items():
        if value is None:
            addresses.pop(label, None)
        else:
            keys = {v: k for k, v in ADDRESS_EXCHANGELIB_KEYS.items()}
            record_keys = {"address_line1": "street", "address_postal_code": "postal_code"}
            addresses[label] = {
                record_keys.get(keys[k], keys[k].removeprefix("address_")): v
                for k, v in value.items()
            }
    out["physical_addresses"] = addresses
    return out


address = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(("street", "city", "state", "country", "postal_code"), texts),
    ),
)
exchange_records = st.fixed_dictionaries(
    {
        "id": st.just("AAMk-1"),
        # EWS requires a display name, so a real record always has one.
        "display_name": st.sampled_from(["Ann Lee", "Acme", "x"]),
    },
    optional={
        "given_name": texts,
        "surname": texts,
        "company_name": texts,
        "file_as": texts,
        "job_title": texts,
        "email_address_1": emails,
        "email_address_2": emails,
        "email_address_3": emails,
        "phone_numbers": st.dictionaries(
            st.sampled_from(["BusinessPhone", "MobilePhone", "BusinessFax", "HomePhone"]), phones
        ),
        "physical_addresses": st.fixed_dictionaries(
            {}, optional={"Business": address, "Home": address}
        ),
        "business_home_page": texts,
        "body": texts,
        "categories": st.lists(st.sampled_from(["VIP", "Sell Company", "Sell Person"])),
    },
)


@pytest.mark.spec("S8", "S7.1")
@FAST
@given(exchange_records)
def test_exchange_round_trip_is_stable(record: dict[str, Any]) -> None:
    first = from_exchange(record)
    again = from_exchange(exchange_after_write(record, to_exchange_fields(first)))
    assert again.values() == first.values()
    assert again.is_organization == first.is_organization
    assert again.unmapped == first.unmapped
    assert again.match_emails == first.match_emails


@pytest.mark.spec("S8")
def test_exchange_map_reads_every_field() -> None:
    record = {
        "id": "AAMk=",
        "given_name": " Ann ",
        "surname": "Lee",
        "display_name": "Ann Lee",
        "company_name": "Acme",
        "job_title": "CTO",
        "email_address_1": "Ann@Acme.com",
        "email_address_2": "ann@home.net",
        "email_address_3": None,
        "phone_numbers": {
            "BusinessPhone": "(202) 555-0143",
            "MobilePhone": "202 555 0199",
            "BusinessFax": "+44 20 7946 0958",
            "HomePhone": "1",
        },
        "physical_addresses": {
            "Business": {"street": "1 Main St", "city": "Springfield", "postal_code": "12345"},
            "Home": {"city": "Elsewhere"},
        },
        "business_home_page": "https://acme.example",
        "body": "notes\r\nmore",
        "categories": ["VIP"],
    }
    c = from_exchange(record)
    assert c.values() == {
        "first_name": "Ann",
        "last_name": "Lee",
        "display_name": None,  # a person's display name is derived, not mapped
        "company": "Acme",
        "title": "CTO",
        "email": "ann@acme.com",
        "work_phone": "+12025550143",
        "mobile": "+12025550199",
        "fax": "+442079460958",
        "address_line1": "1 Main St",
        "address_city": "Springfield",
        "address_postal_code": "12345",
        "address_state": None,
        "address_country": None,
        "website": "https://acme.example",
        "notes": "notes\nmore",
    }
    assert c.match_emails == ("ann@acme.com", "ann@home.net")
    assert not c.is_organization


@pytest.mark.spec("S8")
@pytest.mark.parametrize(
    ("record", "is_org"),
    [
        ({"company_name": "Acme", "display_name": "Acme"}, True),
        ({"company_name": "Acme", "given_name": "Ann"}, False),
        ({"given_name": "Ann", "categories": ["Sell Company"]}, True),
        ({"display_name": "nobody"}, False),
        ({"company_name": "  ", "display_name": "x"}, False),
    ],
)
def test_exchange_organisation_rule(record: dict[str, Any], is_org: bool) -> None:
    assert from_exchange(record).is_organization is is_org


@pytest.mark.spec("S8", "S5.4")
def test_to_exchange_fields_partial_and_owned_labels_only() -> None:
    c = from_exchange(
        {"given_name": "Ann", "surname": "Lee", "phone_numbers": {"MobilePhone": "2025550199"}}
    )
    assert to_exchange_fields(c, ["mobile"]) == {"phone_numbers": {"MobilePhone": "+12025550199"}}
    assert to_exchange_fields(c, ["title"]) == {"job_title": None}
    names = to_exchange_fields(c, ["last_name"])
    assert names == {"display_name": "Ann Lee", "file_as": "Lee, Ann", "surname": "Lee"}
    full = to_exchange_fields(c)
    assert full["email_addresses"] == {"EmailAddress1": None}
    assert set(full["phone_numbers"]) == {"BusinessPhone", "MobilePhone", "BusinessFax"}
    assert full["physical_addresses"] == {"Business": None}


@pytest.mark.spec("S8", "S5.4")
def test_merge_indexed_keeps_labels_the_sync_does_not_own() -> None:
    existing = [
        {"label": "EmailAddress1", "email": "old@x.com"},
        {"label": "EmailAddress2", "email": "two@x.com"},
    ]
    merged = merge_indexed(existing, {"EmailAddress1": "new@x.com"}, "email")
    assert merged == [
        {"label": "EmailAddress2", "email": "two@x.com"},
        {"label": "EmailAddress1", "email": "new@x.com"},
    ]
    phones = [
        {"label": "HomePhone", "phone_number": "1"},
        {"label": "MobilePhone", "phone_number": "2"},
    ]
    assert merge_indexed(phones, {"MobilePhone": None}, "phone_number") == [phones[0]]


# -- Sell ------------------------------------------------------------------------------------------
ORGS = {7: "Acme Corp", 8: "Globex"}
sell_address = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {}, optional=dict.fromkeys(("line1", "city", "postal_code", "state", "country"), texts)
    ),
)
sell_common = {
    "first_name": texts,
    "last_name": texts,
    "title": texts,
    "email": emails,
    "phone": phones,
    "mobile": phones,
    "fax": phones,
    "website": texts,
    "description": texts,
    "address": sell_address,
}
sell_contacts = st.fixed_dictionaries(
    {"id": st.just(1), "is_organization": st.booleans()},
    optional={
        **sell_common,
        "name": texts,
        "contact_id": st.sampled_from([None, 7, 8, 99]),
        "customer_status": st.sampled_from(["none", "current", "past"]),
    },
)
sell_leads = st.fixed_dictionaries(
    {"id": st.just(2)}, optional={**sell_common, "organization_name": texts}
)


def sell_after_create(record: dict[str, Any], c: Canonical) -> dict[str, Any]:
    """What Sell would store for ``to_sell_contact_payload(c)``, the caller resolving company."""
    stored = {"id": record["id"], **to_sell_contact_payload(c)}
    needed, company = sell_company_change(c)
    by_name = {v: k for k, v in ORGS.items()}
    if needed:
        stored["contact_id"] = by_name.get(company) if company else None
    elif "company" in c.unmapped:
        stored["contact_id"] = record.get("contact_id")
    return stored


@pytest.mark.spec("S8", "S7.1")
@FAST
@given(sell_contacts)
def test_sell_contact_round_trip_is_stable(record: dict[str, Any]) -> None:
    first = from_sell_contact(record, ORGS)
    again = from_sell_contact(sell_after_create(record, first), ORGS)
    assert again.values() == first.values()
    assert again.is_organization == first.is_organization
    assert again.unmapped == first.unmapped


@pytest.mark.spec("S8", "S7.1")
@FAST
@given(sell_leads)
def test_sell_lead_round_trip_is_stable(record: dict[str, Any]) -> None:
    first = from_sell_lead(record)
    again = from_sell_lead({"id": 2, **to_sell_lead_payload(first)})
    assert again.values() == first.values()
    assert again.is_organization == first.is_organization


@pytest.mark.spec("S8", "S5.4")
def test_sell_contact_company_comes_from_the_organisation() -> None:
    person = from_sell_contact({"last_name": "Lee", "contact_id": 7}, ORGS)
    assert person.company == "Acme Corp"
    unknown = from_sell_contact({"last_name": "Lee", "contact_id": 12345}, ORGS)
    assert "company" in unknown.unmapped  # unknown is not "cleared"
    assert from_sell_contact({"last_name": "Lee", "contact_id": None}, ORGS).company is None
    org = from_sell_contact({"is_organization": True, "name": "Acme Corp"}, ORGS)
    assert org.display_name == "Acme Corp"
    assert {"company", "first_name", "last_name"} <= org.unmapped


@pytest.mark.spec("S8")
def test_sell_payloads_are_partial() -> None:
    c = from_sell_contact({"last_name": "Lee", "phone": "2025550143", "contact_id": 7}, ORGS)
    assert to_sell_contact_payload(c, ["work_phone"]) == {"phone": "+12025550143"}
    assert to_sell_contact_payload(c, ["address_city"]) == {
        "address": {
            "line1": None,
            "city": None,
            "postal_code": None,
            "state": None,
            "country": None,
        }
    }
    assert to_sell_contact_payload(c, ["company"]) == {}
    assert sell_company_change(c, ["company"]) == (True, "Acme Corp")
    assert sell_company_change(c, ["title"]) == (False, None)
    created = to_sell_contact_payload(c)
    assert created == {"last_name": "Lee", "phone": "+12025550143", "is_organization": False}
    org = Canonical(display_name="Acme", is_organization=True, unmapped=frozenset({"company"}))
    assert to_sell_contact_payload(org, ["display_name"]) == {"name": "Acme"}
    lead = from_sell_lead({"last_name": "Lee", "organization_name": "Acme"})
    assert to_sell_lead_payload(lead, ["company"]) == {"organization_name": "Acme"}
    assert to_sell_lead_payload(lead, ["email"]) == {"email": None}
