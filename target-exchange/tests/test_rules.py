"""The rule tables of SPEC S2-S7 and S10.1, driven in-process with hand-made Sell records
against a real ews-sandbox (each test gets its own mailbox and ledger)."""

from __future__ import annotations

import pytest
from contact_mapping.categories import CATEGORY_COLOURS, SELL_CATEGORIES, category_guid_text
from exchange_mailbox.ews import master_categories
from exchange_mailbox.ews.category_list import CategoryList
from exchange_mailbox.ews.connection import disconnect
from exchangelib import Contact
from exchangelib.indexed_properties import EmailAddress

from .conftest import company, lead, person

pytestmark = pytest.mark.subprocess

T1 = "2025-01-01T10:00:00Z"
T2 = "2025-02-01T10:00:00Z"
T3 = "2025-03-01T10:00:00Z"


def by_name(env) -> dict[str, Contact]:
    return {c.display_name: c for c in env.contacts()}


def writes(env) -> int:
    return env.ews.stats()["total_writes"]


@pytest.mark.spec("S2")
def test_s2_categories_follow_deal_statuses_and_keep_user_categories(env):
    env.run({"contacts": [person(1), company(2, "Acme")], "leads": [lead(3)]})
    items = by_name(env)
    assert items["First1 Last1"].categories == ["Sell Person"]
    assert items["Acme"].categories == ["Sell Company"]
    assert items["Lead3 Person"].categories == ["Sell Lead"]
    # The user adds a category of their own in Outlook.
    account = env.account()
    mine = items["First1 Last1"]
    mine.account = account
    mine.categories = ["VIP", "Sell Person"]
    mine.save(update_fields=["categories"])
    disconnect(account)
    # A deal opens: current prospect; then it is won: current customer, prospect lost.
    env.run({"contacts": [person(1, prospect_status="current", updated_at=T2)]})
    assert by_name(env)["First1 Last1"].categories == [
        "VIP",
        "Sell Person",
        "Sell Current Prospect",
    ]
    env.run(
        {"contacts": [person(1, prospect_status="lost", customer_status="current", updated_at=T3)]}
    )
    assert by_name(env)["First1 Last1"].categories == [
        "VIP",
        "Sell Person",
        "Sell Lost Prospect",
        "Sell Current Customer",
    ]
    env.run(
        {
            "contacts": [
                person(
                    1,
                    prospect_status="none",
                    customer_status="past",
                    updated_at="2025-04-01T10:00:00Z",
                )
            ]
        }
    )
    assert by_name(env)["First1 Last1"].categories == ["VIP", "Sell Person", "Sell Past Customer"]


@pytest.mark.spec("S3.1", "S3.2")
def test_s3_master_list_created_kept_and_renames_restored(env):
    account = env.account()
    loaded = master_categories.load(account)
    existing = loaded if loaded is not None else CategoryList.empty()
    element = existing.add("Personal", color=2)
    element.set("futureAttribute", "keep-me")
    master_categories.save(account, existing, exists=loaded is not None)
    disconnect(account)

    env.run({"contacts": [person(1)]})
    account = env.account()
    stored = master_categories.load(account)
    by = {c.name: c for c in stored.categories()}
    for name in SELL_CATEGORIES:
        assert by[name].guid == category_guid_text(name)
        assert by[name].color == CATEGORY_COLOURS[name]
    assert by["Personal"].color == 2
    assert stored.find("Personal").get("futureAttribute") == "keep-me"

    # S3.2: the user renames "Sell Person" and Outlook re-tags the contact with the new name.
    stored.rename(category_guid_text("Sell Person"), "People from Sell")
    master_categories.save(account, stored, exists=True)
    item = by_name(env)["First1 Last1"]
    item.account = account
    item.categories = ["People from Sell"]
    item.save(update_fields=["categories"])
    disconnect(account)

    env.ews.reset()
    env.run({"contacts": []})  # nothing to sync: the list is still checked
    account = env.account()
    names = master_categories.load(account).names()
    disconnect(account)
    assert "Sell Person" in names
    assert "People from Sell" not in names
    assert by_name(env)["First1 Last1"].categories == ["Sell Person"]

    env.ews.reset()
    env.run({"contacts": []})
    stats = env.ews.stats()
    assert stats["total_writes"] == 0
    assert stats["reads"].get("GetUserConfiguration") == 1


@pytest.mark.spec("S4.1", "S5.3")
def test_s4_matching_links_instead_of_creating_and_s53_blank_never_overwrites(env):
    account = env.account()
    existing = Contact(
        account=account,
        folder=account.contacts,
        given_name="Ann",
        surname="Smith",
        display_name="Ann Smith",
        job_title="CTO",
        email_addresses=[EmailAddress(label="EmailAddress1", email="ANN@Example.org")],
    )
    existing.save()
    disconnect(account)
    env.run(
        {
            "contacts": [
                person(1, first_name="Ann", last_name="Smith", email="ann@example.org", title=None)
            ]
        }
    )
    report = env.run({"contacts": []})
    assert report["streams"] == {} or report["streams"].get("contacts", {}).get("created", 0) == 0
    items = env.contacts()
    assert len(items) == 1
    ann = items[0]
    assert ann.job_title == "CTO"  # S5.3: Sell's blank title did not clear it
    assert ann.phone_numbers
    assert ann.phone_numbers[0].phone_number == "+12125550100"
    assert "Sell Person" in ann.categories


@pytest.mark.spec("S5.1", "S7.2")
def test_s5_three_way_merge_and_s72_replay(env):
    env.run({"contacts": [person(1)]})
    account = env.account()
    item = by_name(env)["First1 Last1"]
    item.account = account
    item.job_title = "Chief Engineer"  # the user edits the title in Exchange
    item.save(update_fields=["job_title"])
    disconnect(account)
    # Sell changes the e-mail only: both edits survive (S5.1).
    report = env.run({"contacts": [person(1, email="new1@example.org", updated_at=T2)]})
    assert report["streams"]["contacts"]["updated"] == 1
    item = by_name(env)["First1 Last1"]
    assert item.job_title == "Chief Engineer"
    assert item.email_addresses[0].email == "new1@example.org"
    # Replays (S7.2): the same record again writes nothing.
    env.ews.reset()
    report = env.run({"contacts": [person(1, email="new1@example.org", updated_at=T2)] * 2})
    assert writes(env) == 0
    assert report["streams"]["contacts"]["unchanged"] == 1


@pytest.mark.spec("S5.2", "S12")
def test_s52_conflict_newer_side_wins_and_is_reported(env):
    env.run({"contacts": [person(1)]})
    account = env.account()
    item = by_name(env)["First1 Last1"]
    item.account = account
    item.job_title = "Exchange Title"
    item.save(update_fields=["job_title"])
    disconnect(account)
    # Sell changed the same field later than Exchange did: Sell wins (far-future updated_at).
    report = env.run(
        {"contacts": [person(1, title="Sell Title", updated_at="2099-01-01T00:00:00Z")]}
    )
    assert by_name(env)["First1 Last1"].job_title == "Sell Title"
    [conflict] = report["conflicts"]
    assert conflict["field"] == "title"
    assert conflict["kept"] == "Sell Title"
    assert conflict["overwritten"] == "Exchange Title"


@pytest.mark.spec("S6")
def test_s6_deleted_in_exchange_retires_link_never_recreates(env):
    env.run({"contacts": [person(1)]})
    account = env.account()
    item = by_name(env)["First1 Last1"]
    item.account = account
    item.delete()
    disconnect(account)
    report = env.run({"contacts": [person(1, title="Changed", updated_at=T2)]})
    assert report["streams"]["contacts"]["links_retired"] == 1
    assert env.contacts() == []
    report = env.run({"contacts": [person(1, title="Changed again", updated_at=T3)]})
    assert env.contacts() == []
    assert report["streams"]["contacts"]["created"] == 0


@pytest.mark.spec("S10.1")
def test_s101_rejected_record_is_reported_and_retried_only_when_changed(env):
    bad = person(2, last_name="x" * 300)  # longer than Exchange allows for Surname
    report = env.run({"contacts": [person(1), bad, person(3)]})
    assert report["streams"]["contacts"]["created"] == 2
    assert report["streams"]["contacts"]["rejected"] == 1
    assert report["rejected"][0]["record_id"] == "contact:2"
    env.ews.reset()
    report = env.run({"contacts": [bad]})
    assert writes(env) == 0
    assert report["streams"]["contacts"]["rejected"] == 0
    report = env.run({"contacts": [person(2, updated_at=T2)]})
    assert report["streams"]["contacts"]["created"] == 1
    assert len(env.contacts()) == 3


@pytest.mark.spec("S8")
def test_organisation_rename_moves_company_name_of_linked_people(env):
    env.run({"contacts": [company(10, "Acme"), person(1, contact_id=10)]})
    assert by_name(env)["First1 Last1"].company_name == "Acme"
    env.run({"contacts": [company(10, "Acme Holdings", updated_at=T2)]})
    items = by_name(env)
    assert items["First1 Last1"].company_name == "Acme Holdings"
    assert "Acme Holdings" in items


def test_other_streams_are_ignored_without_a_request(env):
    report = env.run({"meltano_test_stream": [{"id": 1, "name": "x"}]})
    assert report["ignored_streams"] == ["meltano_test_stream"]
    assert env.ews.stats()["by_tenant"].get(env.mailbox) is None
