"""Table-driven checks of SPEC S2 (categories), S4 (matching) and S5 (merging), row by row."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime
from typing import Any

import pytest
from contact_mapping import (
    CATEGORY_COLOURS,
    SELL_CATEGORIES,
    Candidate,
    Canonical,
    Decision,
    MatchIndex,
    category_for_guid,
    category_guid,
    category_guid_text,
    from_exchange,
    from_sell_contact,
    from_sell_lead,
    merge,
    merge_categories,
    sell_categories,
)

# -- S2: category tagging --------------------------------------------------------------------------
S2_ROWS = [
    # (rule, kind, record, expected categories)
    ("person", "contact", {"is_organization": False}, {"Sell Person"}),
    ("company", "contact", {"is_organization": True}, {"Sell Company"}),
    (
        "current prospect",
        "contact",
        {"is_organization": False, "prospect_status": "current"},
        {"Sell Person", "Sell Current Prospect"},
    ),
    (
        "lost prospect",
        "contact",
        {"is_organization": True, "prospect_status": "lost"},
        {"Sell Company", "Sell Lost Prospect"},
    ),
    (
        "current customer",
        "contact",
        {"is_organization": False, "customer_status": "current"},
        {"Sell Person", "Sell Current Customer"},
    ),
    (
        "past customer",
        "contact",
        {"is_organization": False, "customer_status": "past"},
        {"Sell Person", "Sell Past Customer"},
    ),
    (
        "several at once",
        "contact",
        {"is_organization": True, "prospect_status": "current", "customer_status": "past"},
        {"Sell Company", "Sell Current Prospect", "Sell Past Customer"},
    ),
    (
        "none statuses",
        "contact",
        {"is_organization": False, "prospect_status": "none", "customer_status": "none"},
        {"Sell Person"},
    ),
    ("lead", "lead", {"first_name": "A", "status": "New"}, {"Sell Lead"}),
]


@pytest.mark.spec("S2")
@pytest.mark.parametrize(
    ("rule", "kind", "record", "expected"), S2_ROWS, ids=[r[0] for r in S2_ROWS]
)
def test_s2_categories(rule: str, kind: str, record: dict, expected: set[str]) -> None:
    assert sell_categories(record, kind) == expected  # type: ignore[arg-type]


@pytest.mark.spec("S2")
def test_s2_recomputed_keeps_user_categories_and_drops_stale_sell_ones() -> None:
    existing = ["VIP", "Sell Current Prospect", "Family", "Sell Person"]
    now = sell_categories({"is_organization": False, "customer_status": "current"}, "contact")
    assert merge_categories(existing, now) == [
        "VIP",
        "Family",
        "Sell Person",
        "Sell Current Customer",
    ]
    # Stable: applying the same set again changes nothing (no spurious Exchange writes).
    again = merge_categories(merge_categories(existing, now), now)
    assert again == merge_categories(existing, now)
    assert merge_categories(None, {"Sell Lead"}) == ["Sell Lead"]
    with pytest.raises(ValueError, match="not Sell categories"):
        merge_categories([], {"VIP"})


@pytest.mark.spec("S3.1", "S3.2")
def test_s3_guids_and_colours_are_fixed() -> None:
    assert set(CATEGORY_COLOURS) == set(SELL_CATEGORIES)
    assert all(-1 <= c <= 24 for c in CATEGORY_COLOURS.values())
    guids = {category_guid(n) for n in SELL_CATEGORIES}
    assert len(guids) == 7
    # Pinned: changing the namespace would orphan every mailbox's categories (S3.2).
    assert str(category_guid("Sell Person")) == "a4f1b989-4f75-502c-96fe-e9fd2f82c7a3"
    text = category_guid_text("Sell Lead")
    assert text.startswith("{")
    assert text.endswith("}")
    assert len(text) == 38
    assert category_for_guid(text.upper()) == "Sell Lead"
    assert category_for_guid("{00000000-0000-0000-0000-000000000000}") is None


# -- S4: matching --------------------------------------------------------------------------
def ex(**record: Any) -> Canonical:
    return from_exchange(record)


def sell(**record: Any) -> Canonical:
    return from_sell_contact(record, {1: "Acme"})


T1 = datetime(2024, 1, 1, tzinfo=UTC)
T2 = datetime(2024, 6, 1, tzinfo=UTC)

S4_ROWS: list[tuple[str, Canonical, list[Candidate], Any, str | None, list[Any]]] = [
    (
        "S4.1 e-mail, trimmed and case-insensitive",
        ex(given_name="Ann", surname="Lee", email_address_1=" ANN@Example.com "),
        [Candidate(10, sell(last_name="Other", email="ann@example.COM"))],
        10,
        "email",
        [],
    ),
    (
        "S4.1 Exchange address 2 matches the Sell e-mail",
        ex(surname="Lee", email_address_1="a@x.com", email_address_2="ann@lee.net"),
        [Candidate(11, sell(last_name="Lee", email="ann@lee.net"))],
        11,
        "email",
        [],
    ),
    (
        "S4.1 Exchange address 3 matches the Sell e-mail",
        ex(surname="Lee", email_address_3="third@lee.net"),
        [Candidate(12, sell(last_name="Lee", email="third@lee.net"))],
        12,
        "email",
        [],
    ),
    (
        "S4.1 name + phone when no e-mail matches",
        ex(given_name="Ann", surname="Lee", phone_numbers={"MobilePhone": "(202) 555-0199"}),
        [Candidate(13, sell(first_name="ann", last_name=" LEE", phone="+1 202 555 0199"))],
        13,
        "name_phone",
        [],
    ),
    (
        "S4.1 name alone is not enough",
        ex(given_name="Ann", surname="Lee"),
        [Candidate(14, sell(first_name="Ann", last_name="Lee"))],
        None,
        None,
        [],
    ),
    (
        "S4.1 phone with another name is not enough",
        ex(given_name="Bob", surname="Lee", phone_numbers={"BusinessPhone": "2025550143"}),
        [Candidate(15, sell(first_name="Ann", last_name="Lee", phone="2025550143"))],
        None,
        None,
        [],
    ),
    (
        "S4.1 e-mail is tried before name + phone",
        ex(
            given_name="Ann",
            surname="Lee",
            email_address_1="ann@x.com",
            phone_numbers={"BusinessPhone": "2025550143"},
        ),
        [
            Candidate(16, sell(first_name="Ann", last_name="Lee", phone="2025550143"), T2),
            Candidate(17, sell(last_name="Zed", email="ann@x.com"), T1),
        ],
        17,
        "email",
        [],
    ),
    (
        "S4.1 people never match companies",
        ex(company_name="Acme", display_name="Acme", email_address_1="info@acme.com"),
        [Candidate(18, sell(last_name="Info", email="info@acme.com"))],
        None,
        None,
        [],
    ),
    (
        "S4.1 companies match companies by e-mail",
        ex(company_name="Acme", display_name="Acme", email_address_1="info@acme.com"),
        [
            Candidate(19, sell(last_name="Info", email="info@acme.com")),
            Candidate(20, sell(is_organization=True, name="Acme", email="info@acme.com")),
        ],
        20,
        "email",
        [],
    ),
    (
        "S4.1 companies match by name + phone",
        ex(
            company_name="Acme", display_name="ACME ", phone_numbers={"BusinessPhone": "2025550143"}
        ),
        [Candidate(21, sell(is_organization=True, name="acme", phone="202-555-0143"))],
        21,
        "name_phone",
        [],
    ),
    (
        "S4.2 several candidates: most recently updated wins, others reported",
        ex(surname="Lee", email_address_1="ann@x.com"),
        [
            Candidate(22, sell(last_name="Lee", email="ann@x.com"), "2024-01-01T00:00:00Z"),
            Candidate(23, sell(last_name="Lee", email="ann@x.com"), "2024-06-01T00:00:00Z"),
            Candidate(24, sell(last_name="Lee", email="ann@x.com"), None),
        ],
        23,
        "email",
        [22, 24],
    ),
]


@pytest.mark.spec("S4.1", "S4.2")
@pytest.mark.parametrize(
    ("rule", "incoming", "candidates", "winner", "how", "alternatives"),
    S4_ROWS,
    ids=[r[0] for r in S4_ROWS],
)
def test_s4_matching(  # noqa: PLR0917 - one argument per table column
    rule: str,
    incoming: Canonical,
    candidates: list[Candidate],
    winner: Any,
    how: str | None,
    alternatives: list[Any],
) -> None:
    index = MatchIndex.build(candidates)
    found = index.match(incoming)
    if winner is None:
        assert found is None
        return
    assert found is not None
    assert (found.candidate.id, found.rule) == (winner, how)
    assert [a.id for a in found.alternatives] == alternatives
    assert found.log_details()["alternatives"] == [str(a) for a in alternatives]


def test_the_index_keeps_no_canonical_form_once_the_keys_are_filed() -> None:
    """An initial run indexes every unlinked record of the other side: only keys, id and time
    may stay for the run, or its memory grows with the account (README, table 4)."""
    canonical = sell(last_name="Lee", email="ann@x.com", phone="+1 212 555 0100")
    kept = weakref.ref(canonical)
    index = MatchIndex.build([Candidate("sell-1", canonical, "2024-05-01T10:00:00Z")])
    del canonical
    gc.collect()
    assert kept() is None
    found = index.find(ex(surname="Lee", email_address_1="ANN@x.com "))
    assert found is not None
    assert (found.candidate.id, found.rule) == ("sell-1", "email")
    assert found.candidate.updated_at.isoformat() == "2024-05-01T10:00:00+00:00"


@pytest.mark.spec("S4.2")
def test_s4_2_one_to_one_a_claimed_candidate_is_not_offered_again() -> None:
    index = MatchIndex.build([Candidate("sell-1", sell(last_name="Lee", email="ann@x.com"))])
    first = index.match(ex(surname="Lee", email_address_1="ann@x.com"))
    assert first is not None
    assert index.is_claimed("sell-1")
    assert index.match(ex(surname="Lee", email_address_1="ann@x.com")) is None
    with pytest.raises(ValueError, match="already claimed"):
        index.claim("sell-1")
    assert len(index) == 0


@pytest.mark.spec("S4.2")
def test_s4_2_tie_on_update_time_is_deterministic() -> None:
    cands = [Candidate(i, sell(last_name="Lee", email="a@x.com"), T1) for i in (3, 1, 2)]
    winners = set()
    for order in (cands, cands[::-1]):
        found = MatchIndex.build(list(order)).find(ex(surname="L", email_address_1="a@x.com"))
        assert found is not None
        winners.add(found.candidate.id)
    assert winners == {1}


@pytest.mark.spec("S4.3")
def test_s4_3_exchange_duplicates_first_links_others_are_created() -> None:
    """Two Exchange duplicates, one Sell record: the first links, the second gets no match."""
    index = MatchIndex.build([Candidate(("contact", 5), sell(last_name="Lee", email="ann@x.com"))])
    dup_a = ex(surname="Lee", email_address_1="ann@x.com")
    dup_b = ex(surname="Lee", email_address_1="ANN@x.com")
    outcomes = [index.match(d) for d in (dup_a, dup_b)]
    assert outcomes[0] is not None
    assert outcomes[0].candidate.id == ("contact", 5)
    assert outcomes[1] is None  # → becomes its own Sell contact


@pytest.mark.spec("S4.1")
def test_s4_leads_match_like_contacts() -> None:
    lead = from_sell_lead({"first_name": "Ann", "last_name": "Lee", "email": "ANN@x.com"})
    index = MatchIndex.build([Candidate(("lead", 9), lead)])
    assert index.match(ex(given_name="Ann", surname="Lee", email_address_2="ann@x.com")) is not None


# -- S5: merging --------------------------------------------------------------------------
def person(**values: Any) -> Canonical:
    return Canonical(**values)


EARLY, LATE = "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"
S5_ROWS: list[tuple[str, Any, dict, dict, str, str, bool, dict, dict]] = [
    # rule, base, exchange, sell, x_time, s_time, first_link, expected values, decisions
    (
        "S5.1 unchanged",
        {"title": "A"},
        {"title": "A"},
        {"title": "A"},
        EARLY,
        LATE,
        False,
        {"title": "A"},
        {"title": Decision.UNCHANGED},
    ),
    (
        "S5.1 changed in Exchange only",
        {"title": "A"},
        {"title": "B"},
        {"title": "A"},
        EARLY,
        LATE,
        False,
        {"title": "B"},
        {"title": Decision.EXCHANGE_CHANGED},
    ),
    (
        "S5.1 changed in Sell only",
        {"title": "A"},
        {"title": "A"},
        {"title": "C"},
        LATE,
        EARLY,
        False,
        {"title": "C"},
        {"title": Decision.SELL_CHANGED},
    ),
    (
        "S5.1 cleared in Sell only",
        {"title": "A"},
        {"title": "A"},
        {},
        LATE,
        EARLY,
        False,
        {"title": None},
        {"title": Decision.SELL_CHANGED},
    ),
    (
        "S5.1 same change on both",
        {"title": "A"},
        {"title": "B"},
        {"title": "B"},
        EARLY,
        LATE,
        False,
        {"title": "B"},
        {"title": Decision.BOTH_SAME},
    ),
    (
        "S5.1 phone reformatted is no change",
        {"work_phone": "+12025550143"},
        {"work_phone": "+12025550143"},
        {"work_phone": "+1 (202) 555-0143"},
        EARLY,
        LATE,
        False,
        {"work_phone": "+1 (202) 555-0143"},
        {"work_phone": Decision.UNCHANGED},
    ),
    (
        "S5.2 conflict, Sell newer",
        {"title": "A"},
        {"title": "B"},
        {"title": "C"},
        EARLY,
        LATE,
        False,
        {"title": "C"},
        {"title": Decision.CONFLICT_SELL_WON},
    ),
    (
        "S5.2 conflict, Exchange newer",
        {"title": "A"},
        {"title": "B"},
        {"title": "C"},
        LATE,
        EARLY,
        False,
        {"title": "B"},
        {"title": Decision.CONFLICT_EXCHANGE_WON},
    ),
    (
        "S5.2 conflict with a clear",
        {"title": "A"},
        {},
        {"title": "C"},
        LATE,
        EARLY,
        False,
        {"title": None},
        {"title": Decision.CONFLICT_EXCHANGE_WON},
    ),
    (
        "S5.3 first link: blank never overwrites",
        None,
        {"title": "B", "mobile": None},
        {"title": None, "mobile": "+12025550199"},
        LATE,
        EARLY,
        True,
        {"title": "B", "mobile": "+12025550199"},
        {"title": Decision.FIRST_LINK_FILL, "mobile": Decision.FIRST_LINK_FILL},
    ),
    (
        "S5.3 first link: differing filled values follow S5.2",
        None,
        {"title": "B"},
        {"title": "C"},
        EARLY,
        LATE,
        True,
        {"title": "C"},
        {"title": Decision.CONFLICT_SELL_WON},
    ),
    (
        "S5.3 first link ignores a stale base",
        {"title": "B"},
        {"title": "B"},
        {"title": None},
        EARLY,
        LATE,
        True,
        {"title": "B"},
        {"title": Decision.FIRST_LINK_FILL},
    ),
]


@pytest.mark.spec("S5.1", "S5.2", "S5.3")
@pytest.mark.parametrize(
    ("rule", "base", "x", "s", "xt", "st", "first", "expected", "decisions"),
    S5_ROWS,
    ids=[r[0] for r in S5_ROWS],
)
def test_s5_merge(  # noqa: PLR0917 - one argument per table column
    rule: str,
    base: Any,
    x: dict,
    s: dict,
    xt: str,
    st: str,
    first: bool,
    expected: dict,
    decisions: dict,
) -> None:
    result = merge(base, person(**x), person(**s), xt, st, first_link=first)
    for field, value in expected.items():
        assert result.values[field] == value, field
    for field, decision in decisions.items():
        assert result.decisions[field] == decision, field


@pytest.mark.spec("S5.2")
def test_s5_2_losing_value_is_kept_with_time_and_origin() -> None:
    result = merge({"title": "A"}, person(title="B"), person(title="C"), EARLY, LATE)
    (lost,) = result.overwritten
    assert (lost.field, lost.value, lost.origin) == ("title", "B", "exchange")
    assert lost.time == datetime(2024, 1, 1, tzinfo=UTC)
    assert lost.line() == '2024-01-01T00:00:00Z exchange title: "B"'
    assert result.conflicts == {"title": Decision.CONFLICT_SELL_WON}
    flipped = merge({"title": "A"}, person(title="B"), person(title="C"), LATE, EARLY)
    assert flipped.overwritten[0].origin == "sell"
    assert flipped.overwritten[0].value == "C"


@pytest.mark.spec("S5.4")
def test_s5_4_fields_without_counterpart_are_never_cleared() -> None:
    """A Sell organisation has no employer; the Exchange company stays, unchanged."""
    exchange = from_exchange(
        {"given_name": "Ann", "company_name": "Acme", "categories": ["Sell Company"]}
    )
    sell_org = from_sell_contact({"is_organization": True, "name": "Ann"}, {})
    result = merge({"company": "Acme"}, exchange, sell_org, EARLY, LATE)
    assert result.values["company"] == exchange.company
    assert "company" not in result.changed_for(sell_org)
    assert result.decisions["company"] == Decision.UNCHANGED
    # A person whose organisation name is unknown: company is unknown, not blank.
    unknown = from_sell_contact({"last_name": "Lee", "contact_id": 404}, {})
    ex_person = from_exchange({"surname": "Lee", "company_name": "Acme"})
    merged = merge({"company": "Acme", "last_name": "Lee"}, ex_person, unknown, EARLY, LATE)
    assert merged.values["company"] == "Acme"
    assert "company" not in merged.changed_for(ex_person)
    # Exchange fields outside the map (EmailAddress2, HomePhone) never enter the merge at all.
    assert "email_address_2" not in merged.values
