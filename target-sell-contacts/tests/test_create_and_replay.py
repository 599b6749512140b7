"""New Exchange contacts become Sell contacts; a replay writes nothing (S7.2); S8 field map."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.subprocess


@pytest.mark.spec("S8")
def test_creates_people_with_mapped_fields_and_company(tenant, make_record) -> None:
    ann = make_record(
        given_name="Ann",
        surname="Archer",
        company_name="Acme Corp",
        job_title="CTO",
        email_address_1="Ann.Archer@Acme.example",
        email_address_2="ann@home.example",
        phone_numbers={"BusinessPhone": "(212) 555-0100", "MobilePhone": "+1 646 555 0199"},
        physical_addresses={
            "Business": {"street": "1 Main St", "city": "Springfield", "country": "US"}
        },
        business_home_page="https://acme.example",
        body="Met at the fair",
    )
    bob = make_record(given_name="Bob", surname="Baker", company_name="acme corp ")
    run = tenant.run([ann, bob])
    assert run.count("created") == 2
    people = {p["last_name"]: p for p in tenant.api.people()}
    a = people["Archer"]
    assert a["first_name"] == "Ann"
    assert a["email"] == "ann.archer@acme.example"
    assert a["title"] == "CTO"
    assert a["phone"] == "+12125550100"
    assert a["mobile"] == "+16465550199"
    assert a["address"]["line1"] == "1 Main St"
    assert a["address"]["city"] == "Springfield"
    assert a["website"] == "https://acme.example"
    assert a["description"] == "Met at the fair"
    assert a["custom_fields"]["Exchange ID"] == ann["id"]
    orgs = [c for c in tenant.api.all("contacts") if c["is_organization"]]
    assert [o["name"] for o in orgs] == ["Acme Corp"]
    assert a["contact_id"] == orgs[0]["id"] == people["Baker"]["contact_id"]
    assert run.states, "STATE is emitted once the batch is written"


@pytest.mark.spec("S7.2")
def test_replay_makes_no_write(tenant, make_record) -> None:
    records = [
        make_record(given_name=f"P{i}", surname="Replay", email_address_1=f"p{i}@x.example")
        for i in range(5)
    ]
    tenant.run(records)
    assert len(tenant.api.people()) == 5
    tenant.sandbox.reset()
    again = tenant.run(records)
    assert tenant.api.writes() == {}
    assert again.count("unchanged") == 5
    assert again.states
    assert len(tenant.api.people()) == 5


@pytest.mark.spec("S8")
def test_company_contact_becomes_sell_organization(tenant, make_record) -> None:
    org = make_record(
        company_name="Globex Ltd", display_name="Globex Ltd", email_address_1="info@globex.example"
    )
    run = tenant.run([org])
    assert run.count("created") == 1
    orgs = [c for c in tenant.api.all("contacts") if c["is_organization"]]
    assert [(o["name"], o["email"]) for o in orgs] == [("Globex Ltd", "info@globex.example")]


def test_other_streams_are_ignored(tenant, make_record, lines) -> None:
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    }
    text = lines([{"id": 1, "name": "x"}], stream="meltano_test_stream", schema=schema)
    run = tenant.run(text)
    assert tenant.api.writes() == {}
    assert run.report["ignored_streams"] == ["meltano_test_stream"]
