"""S6 deletions, S10.1 rejections, S10.3 configuration errors before any write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from singer_sdk.exceptions import ConfigValidationError
from target_sell_contacts.preflight import SellUnavailableError, SetupError

pytestmark = pytest.mark.subprocess


def _edit(rec: dict, **changes) -> dict:
    return {
        **rec,
        **changes,
        "change_key": rec["change_key"] + "+",
        "last_modified_time": datetime.now(UTC).isoformat(),
    }


@pytest.mark.spec("S6")
def test_sell_record_deleted_after_linking_is_not_recreated(tenant, make_record) -> None:
    rec = make_record(given_name="Quinn", surname="Quill", email_address_1="q@x.example")
    tenant.run([rec])
    sell = tenant.api.people()[0]
    tenant.api.delete("contacts", sell["id"])
    run = tenant.run([_edit(rec, job_title="Boss")])
    assert run.count("links_retired") == 1
    assert run.count("created") == 0
    assert tenant.api.people() == []
    # ...and stays retired on later changes.
    tenant.sandbox.reset()
    later = tenant.run([_edit(rec, job_title="Big boss")])
    assert tenant.api.writes() == {}
    assert later.count("created") == 0


@pytest.mark.spec("S6")
def test_exchange_deletion_retires_link_and_keeps_sell_record(
    tenant, make_record, make_deletion
) -> None:
    rec = make_record(given_name="Rae", surname="Reed")
    tenant.run([rec])
    tenant.sandbox.reset()
    run = tenant.run([make_deletion(rec["id"])])
    assert run.count("deletions_seen") == 1
    assert run.count("links_retired") == 1
    assert tenant.api.writes() == {}
    assert [p["last_name"] for p in tenant.api.people()] == ["Reed"]


@pytest.mark.spec("S10.1", "S12")
def test_rejected_record_is_reported_and_the_others_land(tenant, make_record) -> None:
    good = [make_record(given_name=f"G{i}", surname="Good") for i in range(4)]
    bad = make_record(given_name="Nolastname")  # Sell needs a last name for a person
    run = tenant.run([*good[:2], bad, *good[2:]])
    assert run.count("created") == 4
    assert run.count("rejected") == 1
    rejected = run.report["rejected"][0]
    assert rejected["record_id"] == bad["id"]
    assert "last_name" in rejected["reason"]
    assert run.states, "a rejection does not stop STATE"
    # Unchanged since rejected: not sent again. Changed: retried.
    tenant.sandbox.reset()
    tenant.run([bad])
    assert tenant.api.writes() == {}
    fixed = tenant.run([_edit(bad, surname="Fixed")])
    assert fixed.count("created") == 1


@pytest.mark.spec("S10.3")
def test_bad_token_fails_before_any_write(tenant, make_record) -> None:
    with pytest.raises(SetupError, match="api_token") as caught:
        tenant.run([make_record(surname="Never")], api_token="z" * 64)
    # Logged by the SDK as "Config validation failed", the S10.3 verdict orchestrators read.
    assert isinstance(caught.value, ConfigValidationError)
    assert tenant.api.people() == []


@pytest.mark.spec("S10.3")
def test_missing_exchange_id_field_is_named(tenant, make_record) -> None:
    with pytest.raises(SetupError, match=r"exchange_id_field.*'Nope'"):
        tenant.run([make_record(surname="Never")], exchange_id_field="Nope")
    assert tenant.api.writes() == {}


@pytest.mark.spec("S10.3", "S10.2")
def test_unreachable_api_url_is_named_but_not_a_configuration_verdict(tenant, make_record) -> None:
    """No answer at all may be Sell briefly down: an orchestrator retries it (S10.2) rather
    than marking the tenant as misconfigured, which a refused token is (above)."""
    with pytest.raises(SellUnavailableError, match="api_url") as caught:
        tenant.run([make_record(surname="Never")], api_url="http://127.0.0.1:9", max_retries=0)
    assert not isinstance(caught.value, ConfigValidationError)


@pytest.mark.spec("S11")
def test_token_never_reaches_logs_or_report(tenant, make_record, caplog) -> None:
    caplog.set_level("DEBUG")
    run = tenant.run([make_record(surname="Secret")])
    token = tenant.config["api_token"]
    assert token not in caplog.text
    assert token not in str(run.report)
