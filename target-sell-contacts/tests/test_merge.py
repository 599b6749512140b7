"""S5: linked pairs merge field by field against the last sync; conflicts keep the losing value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.subprocess


def _linked(tenant, make_record, **fields):
    rec = make_record(**fields)
    tenant.run([rec])
    sell = next(
        p for p in tenant.api.people() if p["custom_fields"].get("Exchange ID") == rec["id"]
    )
    return rec, sell


def _edit(rec: dict, minutes: float = 0, **changes) -> dict:
    """The next version of an Exchange record (new change key and modification time)."""
    new = {**rec, **changes}
    new["change_key"] = rec["change_key"] + "+"
    new["last_modified_time"] = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    return new


@pytest.mark.spec("S5.1")
def test_exchange_only_change_writes_only_that_field(tenant, make_record) -> None:
    rec, sell = _linked(tenant, make_record, given_name="Ida", surname="Irons", job_title="Dev")
    tenant.api.update("contacts", sell["id"], twitter="@ida", industry="Software")
    tenant.sandbox.reset()
    run = tenant.run([_edit(rec, job_title="Lead Dev")])
    assert run.count("updated") == 1
    assert tenant.api.writes() == {"PUT /v2/contacts/{id}": 1}
    got = tenant.api.get("contacts", sell["id"])
    assert got["title"] == "Lead Dev"
    # S5.4: Sell-only fields are never touched.
    assert (got["twitter"], got["industry"]) == ("@ida", "Software")


@pytest.mark.spec("S5.1")
def test_sell_only_change_is_kept_without_a_write(tenant, make_record) -> None:
    rec, sell = _linked(tenant, make_record, given_name="Jo", surname="Jones", job_title="Dev")
    tenant.api.update("contacts", sell["id"], title="Architect")
    tenant.sandbox.reset()
    # Exchange changed something else (the body): only that goes to Sell; Sell's title stays.
    run = tenant.run([_edit(rec, body="note")])
    got = tenant.api.get("contacts", sell["id"])
    assert (got["title"], got["description"]) == ("Architect", "note")
    assert run.count("conflicts") == 0


@pytest.mark.spec("S5.2")
def test_conflict_exchange_newer_wins_and_sell_value_is_kept_in_custom_field(
    tenant, make_record
) -> None:
    rec, sell = _linked(tenant, make_record, given_name="Kim", surname="King", job_title="Dev")
    tenant.api.update("contacts", sell["id"], title="Sell title")
    run = tenant.run([_edit(rec, minutes=5, job_title="Exchange title")])
    got = tenant.api.get("contacts", sell["id"])
    assert got["title"] == "Exchange title"
    kept = got["custom_fields"]["Overwritten values"]
    assert "Sell title" in kept
    assert " sell title:" in kept
    assert run.count("conflicts") == 1
    conflict = run.report["conflicts"][0]
    assert (conflict["field"], conflict["kept"], conflict["overwritten"]) == (
        "title",
        "Exchange title",
        "Sell title",
    )
    # Nothing is logged twice when the same input is replayed.
    tenant.run([_edit(rec, minutes=5, job_title="Exchange title")])
    assert tenant.api.get("contacts", sell["id"])["custom_fields"]["Overwritten values"] == kept


@pytest.mark.spec("S5.2")
def test_conflict_sell_newer_wins_and_exchange_value_is_kept(tenant, make_record) -> None:
    rec, sell = _linked(tenant, make_record, given_name="Lu", surname="Lane", job_title="Dev")
    # Edited in Exchange after the last sync (5 min ago) but before the Sell edit (now).
    stale = _edit(rec, minutes=-2, job_title="Exchange title")
    tenant.api.update("contacts", sell["id"], title="Sell title")
    run = tenant.run([stale])
    got = tenant.api.get("contacts", sell["id"])
    assert got["title"] == "Sell title"
    assert "Exchange title" in got["custom_fields"]["Overwritten values"]
    assert "exchange" in got["custom_fields"]["Overwritten values"]
    assert run.report["conflicts"][0]["kept_origin"] == "sell"


@pytest.mark.spec("S5.2")
def test_conflict_without_custom_field_goes_to_a_note(bare_tenant, make_record) -> None:
    rec = make_record(
        given_name="Mo", surname="Moss", job_title="Dev", email_address_1="mo@x.example"
    )
    bare_tenant.run([rec])
    sell = next(p for p in bare_tenant.api.people() if p["last_name"] == "Moss")
    bare_tenant.api.update("contacts", sell["id"], title="Sell title")
    run = bare_tenant.run([_edit(rec, minutes=5, job_title="Exchange title")])
    assert bare_tenant.api.get("contacts", sell["id"])["title"] == "Exchange title"
    notes = bare_tenant.api.all("notes", resource_type="contact", resource_id=sell["id"])
    assert len(notes) == 1
    assert "Sell title" in notes[0]["content"]
    assert run.count("conflicts") == 1


@pytest.mark.spec("S5.3")
def test_first_link_conflict_follows_recency(tenant, make_record) -> None:
    sell = tenant.api.create(
        "contacts", last_name="Nash", email="nash@x.example", title="Sell title"
    )
    rec = make_record(
        surname="Nash",
        email_address_1="nash@x.example",
        job_title="Exchange title",
        modified=datetime.now(UTC) + timedelta(minutes=5),
    )
    run = tenant.run([rec])
    got = tenant.api.get("contacts", sell["id"])
    assert got["title"] == "Exchange title"
    assert "Sell title" in got["custom_fields"]["Overwritten values"]
    assert run.count("matched") == 1


@pytest.mark.spec("S8")
def test_company_change_moves_contact_to_other_organisation(tenant, make_record) -> None:
    rec, sell = _linked(
        tenant, make_record, given_name="Oz", surname="Ortiz", company_name="Old Co"
    )
    run = tenant.run([_edit(rec, company_name="New Co")])
    orgs = {o["name"]: o["id"] for o in tenant.api.all("contacts", is_organization="true")}
    assert tenant.api.get("contacts", sell["id"])["contact_id"] == orgs["New Co"]
    assert run.count("updated") == 1


@pytest.mark.spec("S5.1", "S8")
def test_linked_lead_is_updated(tenant, make_record) -> None:
    lead = tenant.api.create(
        "leads", last_name="Pike", organization_name="Pike Inc", email="pike@x.example"
    )
    rec = make_record(
        given_name="Pat",
        surname="Pike",
        company_name="Pike Inc",
        email_address_1="pike@x.example",
        job_title="Owner",
        sell_link=f"lead:{lead['id']}",
    )
    run = tenant.run([rec])
    got = tenant.api.get("leads", lead["id"])
    assert got["title"] == "Owner"
    assert got["custom_fields"]["Exchange ID"] == rec["id"]
    assert tenant.api.people() == []
    run = tenant.run([_edit(rec, job_title="CEO")])
    assert tenant.api.get("leads", lead["id"])["title"] == "CEO"
    assert run.count("updated") == 1


@pytest.mark.spec("S7.2")
def test_late_replay_of_an_older_version_writes_nothing(tenant, make_record) -> None:
    """S7.2: Singer may deliver an old version again after a newer one was synced."""
    rec, sell = _linked(tenant, make_record, given_name="Ola", surname="Old", job_title="Dev")
    tenant.run([_edit(rec, minutes=1, job_title="Lead Dev")])
    assert tenant.api.get("contacts", sell["id"])["title"] == "Lead Dev"
    tenant.sandbox.reset()
    run = tenant.run([rec])  # the first version again
    assert tenant.sandbox.stats()["total_writes"] == 0
    assert tenant.api.get("contacts", sell["id"])["title"] == "Lead Dev"
    assert run.count("unchanged") == 1
