"""S10.2 / S7.2 under faults: 5xx, 503, connections dropped before/after the write, slow answers.

Creates go through the ledger's intents and, after an unclear outcome, look for the record before
trying again: by its values, or with ``exchange_id_field`` by the exact id it carries.
Either way every contact exists exactly once and a replay writes nothing.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sandbox_common.process import running_sandbox
from target_sell_contacts.sell_client import AmbiguousWriteError, SellClient

pytestmark = [pytest.mark.subprocess, pytest.mark.spec("S7.2", "S10.2")]


@pytest.fixture(scope="module", params=["intents", "id_field"])
def faulty(request, tmp_path_factory, tenant_factory, spare_token):
    args = ["--rate-limit", "0", "--fault-rate", "0.2", "--seed", "11", "--slow-fault-ms", "50"]
    if request.param == "intents":
        args.append("--no-custom-fields")
    extra = {"max_retries": 10, "request_timeout": 5}
    if request.param == "id_field":
        extra["exchange_id_field"] = "Exchange ID"
    with running_sandbox("sell-sandbox", [*args, "--token", spare_token]) as sandbox:
        workdir = tmp_path_factory.mktemp(f"faults-{request.param}")
        yield tenant_factory(sandbox, spare_token, workdir, **extra)


def test_every_contact_exactly_once_under_faults(faulty, make_record) -> None:
    records = [
        make_record(
            given_name=f"F{i}",
            surname="Fault",
            email_address_1=f"f{i}@faults.example",
            company_name=f"Co {i % 3}",
        )
        for i in range(40)
    ]
    run = faulty.run(records)
    assert run.count("created") == 40
    # --seed also fills the account with unrelated contacts: look only at ours.
    people = [p for p in faulty.api.people() if p["last_name"] == "Fault"]
    emails = Counter(p["email"] for p in people)
    assert len(people) == 40
    assert set(emails.values()) == {1}
    orgs = Counter(
        o["name"]
        for o in faulty.api.all("contacts", is_organization="true")
        if o["name"].startswith("Co ")
    )
    assert orgs == Counter({"Co 0": 1, "Co 1": 1, "Co 2": 1})
    faults = faulty.sandbox.stats()["faults"]
    assert sum(faults.values()) > 0, "the sandbox injected faults"

    faulty.sandbox.reset()
    again = faulty.run(records)
    assert again.count("unchanged") == 40
    assert faulty.api.writes() == {}


def test_create_applied_but_answer_lost_is_found_not_repeated(
    bare_tenant, make_record, monkeypatch
) -> None:
    """The fault the sandbox calls drop_after, made certain: every first create 'fails'."""
    real_create = SellClient.create
    lost: set[str] = set()

    def answer_lost(self, path, data):
        result = real_create(self, path, data)
        key = f"{path}:{data.get('email') or data.get('name')}"
        if key not in lost:
            lost.add(key)
            msg = "connection dropped after the write was applied"
            raise AmbiguousWriteError(msg)
        return result

    monkeypatch.setattr(SellClient, "create", answer_lost)
    records = [
        make_record(given_name=f"L{i}", surname="Lost", email_address_1=f"l{i}@x.example")
        for i in range(6)
    ]
    run = bare_tenant.run(records)
    assert run.count("created") == 6
    people = bare_tenant.api.people()
    assert sorted(p["email"] for p in people) == sorted(f"l{i}@x.example" for i in range(6))
    assert len(lost) == 6
