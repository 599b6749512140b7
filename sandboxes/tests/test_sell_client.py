"""sell_sandbox.client against a running sell-sandbox: envelopes, paging, stats, retries."""

from __future__ import annotations

import pytest
import requests
from sandbox_common.process import running_sandbox
from sell_sandbox.client import SellSandboxClient
from sell_sandbox.testing import make_token

pytestmark = pytest.mark.subprocess

ALICE, BOB = make_token("client-alice"), make_token("client-bob")


def test_writes_reads_and_this_tenants_write_stats() -> None:
    args = ["--token", ALICE, "--token", BOB, "--rate-limit", "0"]
    with running_sandbox("sell-sandbox", args) as sandbox:
        alice = SellSandboxClient(sandbox.base_url, ALICE)
        bob = SellSandboxClient(sandbox.base_url, BOB)
        acme = alice.create("contacts", is_organization=True, name="Acme")
        ann = alice.create("contacts", first_name="Ann", last_name="Lee", contact_id=acme["id"])
        updated = alice.update("contacts", ann["id"], title="CTO")
        assert (updated["title"], updated["last_name"]) == ("CTO", "Lee")  # partial update
        assert alice.get("contacts", ann["id"]) == updated
        assert [p["id"] for p in alice.people()] == [ann["id"]]
        deal = alice.create("deals", name="Big", contact_id=ann["id"])
        moved = alice.update("deals", deal["id"], stage_id=alice.stage_ids()["won"])
        assert alice.get("contacts", ann["id"])["customer_status"] == "current", moved
        assert alice.delete("deals", deal["id"]) is None
        bob.create("contacts", last_name="Other")

        assert alice.writes() == {
            "POST /v2/contacts": 2,
            "PUT /v2/contacts/{id}": 1,
            "POST /v2/deals": 1,
            "PUT /v2/deals/{id}": 1,
            "DELETE /v2/deals/{id}": 1,
        }
        assert bob.writes() == {"POST /v2/contacts": 1}
        assert [c["last_name"] for c in bob.all("contacts")] == ["Other"]


def test_errors_carry_the_error_envelope_and_writes_are_not_retried() -> None:
    with running_sandbox("sell-sandbox", ["--token", ALICE, "--rate-limit", "0"]) as sandbox:
        alice = SellSandboxClient(sandbox.base_url, ALICE)
        with pytest.raises(requests.HTTPError) as raised:
            alice.create("contacts", first_name="No last name")
        assert raised.value.response.status_code == 422
        assert "last_name" in str(raised.value)
        assert "missing" in str(raised.value)
        with pytest.raises(requests.HTTPError, match="404"):
            alice.get("contacts", 999_999_999)
        assert alice.writes() == {"POST /v2/contacts": 1}


def test_all_reads_every_page_and_stops_at_the_short_one() -> None:
    # --seed 200: 200 contacts (two full pages, then an empty one), 100 deals (one full page).
    args = ["--token", ALICE, "--rate-limit", "0", "--seed", "200"]
    with running_sandbox("sell-sandbox", args) as sandbox:
        alice = SellSandboxClient(sandbox.base_url, ALICE)
        contacts = alice.all("contacts")
        assert len(contacts) == len({c["id"] for c in contacts}) == 200
        assert alice.all_ids("contacts") == sorted(c["id"] for c in contacts)
        organisations = alice.all("contacts", is_organization="true")
        people = alice.people()
        assert 100 < len(people) < 200
        assert len(people) + len(organisations) == 200
        assert not any(p["is_organization"] for p in people)
        sandbox.reset()
        assert len(alice.all("deals")) == 100
        assert sandbox.stats()["reads"] == {"GET /v2/deals": 2}


def test_429_is_retried_for_every_verb_and_each_write_applied_once() -> None:
    with running_sandbox("sell-sandbox", ["--token", ALICE, "--rate-limit", "2"]) as sandbox:
        alice = SellSandboxClient(sandbox.base_url, ALICE)
        made = [alice.create("contacts", last_name=f"Burst {i}") for i in range(4)]
        for record in made:
            alice.update("contacts", record["id"], title="Updated")
        alice.delete("contacts", made[0]["id"])
        stats = sandbox.stats()
        left = alice.all("contacts")
    assert stats["statuses"].get("429", 0) > 0, stats["statuses"]
    assert sorted(c["last_name"] for c in left) == ["Burst 1", "Burst 2", "Burst 3"]
    assert {c["title"] for c in left} == {"Updated"}


def test_reads_ride_out_faults_and_writes_are_sent_once() -> None:
    args = ["--token", ALICE, "--rate-limit", "0", "--seed", "20"]
    args += ["--fault-rate", "0.5", "--slow-fault-ms", "10"]
    with running_sandbox("sell-sandbox", args) as sandbox:
        alice = SellSandboxClient(sandbox.base_url, ALICE)
        ids = alice.all_ids("contacts")
        assert len(ids) == 20
        assert [alice.get("contacts", i)["id"] for i in ids] == ids
        failed = 0
        for n in range(20):
            try:
                alice.create("contacts", last_name=f"Once {n}")
            except (requests.HTTPError, requests.ConnectionError):
                failed += 1
        stats = sandbox.stats()
    assert stats["reads"]["GET /v2/contacts/{id}"] > 20  # some reads were answered by a retry
    assert failed > 0, stats["faults"]
    assert stats["writes"]["POST /v2/contacts"] == 20  # a failed write is left to the caller
