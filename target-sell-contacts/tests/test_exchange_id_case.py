"""EWS ids are case-sensitive base64; Sell's string filters may ignore case (sandbox: they do).

A filter on ``custom_fields[exchange_id_field]`` therefore only pre-selects: the exact value,
compared here, decides identity — for creates, for look-up matches and for crashed creates.
"""

from __future__ import annotations

import pytest
from contact_mapping.exchange_map import from_exchange
from contact_mapping.ledger import Ledger
from contact_mapping.ledger.testing import begin_intent

BASE = "AAMkADk0ZjU1YzQ2LTVhNGMtNDYxNy1iOTgzLWNiZjM4NmE5NmM4ZgBGAAAAAAC"


@pytest.mark.spec("S4.2")
@pytest.mark.subprocess
@pytest.mark.parametrize("count", [2, 8], ids=["lookup", "index"])
def test_ids_differing_only_in_case_each_get_their_own_contact(tenant, make_record, count):
    suffixes = ["xQ=", "XQ=", "xq=", "Xq="]
    ids = [f"{BASE}{n}{s}" for n in range(count // 2) for s in suffixes][:count]
    records = [
        make_record(
            ident, given_name=f"Case{i}", surname="Id", email_address_1=f"c{i}@case.example"
        )
        for i, ident in enumerate(ids)
    ]
    run = tenant.run(records)
    assert run.count("created") == count
    people = tenant.api.people()
    assert sorted(p["custom_fields"]["Exchange ID"] for p in people) == sorted(ids)
    assert sorted(p["email"] for p in people) == sorted(f"c{i}@case.example" for i in range(count))
    tenant.sandbox.reset()
    again = tenant.run(records)
    assert tenant.api.writes() == {}
    assert again.count("unchanged") == count


@pytest.mark.spec("S4.2")
@pytest.mark.subprocess
def test_contact_carrying_the_exact_id_is_matched_a_case_variant_is_not(tenant, make_record):
    exact = f"{BASE}mine="
    variant = f"{BASE}MINE="
    owned = tenant.api.create(
        "contacts", last_name="Owner", email="owner@case.example",
        custom_fields={"Exchange ID": variant},
    )  # fmt: skip
    mine = make_record(exact, given_name="Mine", surname="Other", email_address_1="m@case.example")
    run = tenant.run([mine])
    assert run.count("created") == 1
    people = {p["last_name"]: p for p in tenant.api.people()}
    assert people["Owner"]["custom_fields"]["Exchange ID"] == variant  # left alone
    assert people["Owner"]["updated_at"] == owned["updated_at"]
    assert people["Other"]["custom_fields"]["Exchange ID"] == exact
    # The owner of the variant id, arriving later, matches its own contact (exact id), no create.
    theirs = make_record(
        variant, given_name="Own", surname="Owner", email_address_1="o@case.example"
    )
    second = tenant.run([theirs])
    assert second.count("created") == 0
    assert second.count("updated") == 1
    assert len(tenant.api.people()) == 2


@pytest.mark.spec("S7.2")
@pytest.mark.subprocess
def test_crashed_create_is_not_adopted_from_a_case_variant(tenant, make_record):
    """An intent left by a crash: only a contact with the exact id counts as "created"."""
    exact = f"{BASE}crash="
    variant = f"{BASE}CRASH="
    sent = make_record(exact, given_name="Cara", surname="Crash", email_address_1="cc@case.example")
    tenant.api.create(
        "contacts", first_name="Cara", last_name="Crash", email="cc@case.example",
        custom_fields={"Exchange ID": variant},
    )  # fmt: skip
    ledger = Ledger(tenant.config["ledger_url"], tenant.config["tenant"])
    try:
        begin_intent(ledger, "exchange_to_sell", exact, from_exchange(sent).values())
    finally:
        ledger.close()
    # Edited in Exchange since the crash, so the normal flow matches nothing either.
    edited = {**sent, "email_address_1": "cara@case.example", "change_key": "CK-edited"}
    run = tenant.run([edited])
    assert run.count("created") == 1
    people = {p["custom_fields"]["Exchange ID"]: p for p in tenant.api.people()}
    assert sorted(people) == sorted([exact, variant])
    assert people[exact]["email"] == "cara@case.example"
    assert people[variant]["email"] == "cc@case.example"
