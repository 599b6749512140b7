"""S4: unlinked Exchange records meet unlinked Sell contacts — by e-mail, then name + phone."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.subprocess


@pytest.fixture(params=["lookup", "index"])
def mode(request) -> str:
    """Few records use filtered look-ups, many use the paged index: both must match alike."""
    return request.param


def _with_fillers(mode: str, make_record, records: list[dict]) -> list[dict]:
    if mode == "lookup":
        return records
    fillers = [make_record(given_name="Filler", surname=f"F{i}") for i in range(4)]
    return records + fillers


@pytest.mark.spec("S4.1")
def test_match_by_email_case_insensitive_links_instead_of_creating(
    tenant, make_record, mode
) -> None:
    sell = tenant.api.create(
        "contacts",
        last_name="Archer",
        first_name="Ann",
        email="ANN@acme.example",
        phone="+1 212 555 0100",
    )
    rec = make_record(
        given_name="Ann", surname="Archer", email_address_1=" ann@Acme.example ", job_title="CTO"
    )
    run = tenant.run(_with_fillers(mode, make_record, [rec]))
    assert run.count("matched") == 1
    people = [p for p in tenant.api.people() if p["last_name"] == "Archer"]
    assert [p["id"] for p in people] == [sell["id"]]
    linked = people[0]
    # S5.3 on first link: the blank Exchange phone does not clear Sell's; Exchange's title fills.
    assert linked["phone"] == "+1 212 555 0100"
    assert linked["title"] == "CTO"
    assert linked["custom_fields"]["Exchange ID"] == rec["id"]


@pytest.mark.spec("S4.1")
def test_second_exchange_address_matches_sell_email(tenant, make_record, mode) -> None:
    sell = tenant.api.create("contacts", last_name="Cole", email="cole@home.example")
    rec = make_record(
        given_name="Cy",
        surname="Cole",
        email_address_1="cy@work.example",
        email_address_3="cole@home.example",
    )
    run = tenant.run(_with_fillers(mode, make_record, [rec]))
    assert run.count("matched") == 1
    got = tenant.api.get("contacts", sell["id"])
    assert got["custom_fields"]["Exchange ID"] == rec["id"]


@pytest.mark.spec("S4.1")
def test_match_by_full_name_and_phone(tenant, make_record, mode) -> None:
    sell = tenant.api.create("contacts", first_name="Dora", last_name="Diaz", mobile="646-555-0142")
    same_name_other_phone = tenant.api.create(
        "contacts", first_name="Dora", last_name="Diaz", mobile="646-555-0999"
    )
    rec = make_record(
        given_name="dora", surname="DIAZ", phone_numbers={"MobilePhone": "+1 (646) 555-0142"}
    )
    run = tenant.run(_with_fillers(mode, make_record, [rec]))
    assert run.count("matched") == 1
    assert tenant.api.get("contacts", sell["id"])["custom_fields"].get("Exchange ID") == rec["id"]
    assert (
        "Exchange ID"
        not in tenant.api.get("contacts", same_name_other_phone["id"])["custom_fields"]
    )


@pytest.mark.spec("S4.1")
def test_name_without_phone_does_not_match(tenant, make_record, mode) -> None:
    tenant.api.create("contacts", first_name="Eve", last_name="Evans")
    rec = make_record(given_name="Eve", surname="Evans")
    run = tenant.run(_with_fillers(mode, make_record, [rec]))
    assert run.count("matched") == 0
    assert len([p for p in tenant.api.people() if p["last_name"] == "Evans"]) == 2


@pytest.mark.spec("S4.1")
def test_people_do_not_match_companies(tenant, make_record, mode) -> None:
    tenant.api.create(
        "contacts", is_organization=True, name="Initech", email="hello@initech.example"
    )
    rec = make_record(given_name="Ina", surname="Initech", email_address_1="hello@initech.example")
    run = tenant.run(_with_fillers(mode, make_record, [rec]))
    assert run.count("matched") == 0
    assert run.count("created") >= 1


@pytest.mark.spec("S4.2")
def test_most_recently_updated_candidate_wins(tenant, make_record, mode, wait_past) -> None:
    older = tenant.api.create("contacts", last_name="Fox", email="fox@x.example")
    newer = tenant.api.create("contacts", last_name="Fox", email="fox@x.example")
    first = tenant.api.update("contacts", older["id"], title="touched first")
    # Sell stamps whole seconds (a tie would fall back to id order): let that second pass.
    wait_past(first["updated_at"])
    tenant.api.update("contacts", newer["id"], title="touched last")
    rec = make_record(given_name="Finn", surname="Fox", email_address_1="fox@x.example")
    run = tenant.run(_with_fillers(mode, make_record, [rec]))
    assert run.report["matches"][0]["matched_id"] == str(newer["id"])
    assert run.report["matches"][0]["alternatives"] == [str(older["id"])]


@pytest.mark.spec("S4.3")
def test_exchange_duplicates_first_links_others_become_own_contacts(
    tenant, make_record, mode
) -> None:
    sell = tenant.api.create("contacts", last_name="Gray", email="gray@x.example")
    first = make_record(given_name="Gus", surname="Gray", email_address_1="gray@x.example")
    second = make_record(given_name="Gus", surname="Gray", email_address_1="gray@x.example")
    run = tenant.run(_with_fillers(mode, make_record, [first, second]))
    grays = [p for p in tenant.api.people() if p["last_name"] == "Gray"]
    assert len(grays) == 2
    by_exchange = {p["custom_fields"].get("Exchange ID"): p["id"] for p in grays}
    assert by_exchange[first["id"]] == sell["id"]
    assert by_exchange[second["id"]] != sell["id"]
    assert run.count("matched") == 1


@pytest.mark.spec("S4.2")
def test_already_linked_sell_contact_is_not_matched_again(tenant, make_record, mode) -> None:
    rec = make_record(given_name="Hal", surname="Hill", email_address_1="hal@x.example")
    tenant.run([rec])
    newcomer = make_record(given_name="Hal", surname="Hill", email_address_1="hal@x.example")
    run = tenant.run(_with_fillers(mode, make_record, [newcomer]))
    assert run.count("matched") == 0
    assert len([p for p in tenant.api.people() if p["last_name"] == "Hill"]) == 2
