"""The ``lead_conversions`` stream: incremental on ``id`` over Sell's id-descending list.

Against sell-sandbox (both ``--converted-leads`` choices) and, offline, against a scripted list.
"""

from __future__ import annotations

from typing import Any, cast

import pytest
from sandbox_common.process import running_sandbox
from sell_sandbox.client import SellSandboxClient
from tap_sell.client import SellStream
from tap_sell.tap import TapSell

TOKEN = "c" * 40 + "0123456789abcdef01234567"
STREAM = ("lead_conversions",)
FIELDS = {
    "id",
    "lead_id",
    "individual_id",
    "organization_id",
    "deal_id",
    "creator_id",
    "created_at",
}


def config_for(sandbox, **extra: object) -> dict:
    return {"api_token": TOKEN, "api_url": sandbox.base_url, "requests_per_second": 0, **extra}


@pytest.fixture(params=["removed", "kept"])
def sell(request):
    args = ["--token", TOKEN, "--rate-limit", "0", "--converted-leads", request.param]
    with running_sandbox("sell-sandbox", args) as sandbox:
        yield sandbox


def convert_new_leads(api: SellSandboxClient, count: int, stem: str) -> list[dict]:
    made = []
    for n in range(count):
        lead = api.create("leads", last_name=f"{stem} {n}", organization_name=f"{stem} Co {n % 3}")
        made.append(api.convert_lead(lead["id"], create_deal=n % 2 == 0))
    return made


@pytest.mark.subprocess
@pytest.mark.spec("S9")
def test_every_conversion_once_then_a_quiet_run_then_only_new_ones(sell, tap_runner) -> None:
    api = SellSandboxClient(sell.base_url, TOKEN)
    convert_new_leads(api, 130, "First")  # two pages: the second one through the cursor
    listed = api.lead_conversions()
    sell.reset()

    first = tap_runner(config_for(sell), streams=STREAM)
    assert len(listed) == 130
    assert first.records["lead_conversions"] == sorted(listed, key=lambda c: c["id"])
    assert all(set(r) == FIELDS for r in first.records["lead_conversions"])
    bookmark = first.state["bookmarks"]["lead_conversions"]
    assert bookmark == {"replication_key": "id", "replication_key_value": listed[0]["id"]}
    assert sell.stats()["reads"] == {"GET /v2/lead_conversions": 2}

    sell.reset()
    quiet = tap_runner(config_for(sell), first.state, streams=STREAM)
    assert quiet.ids("lead_conversions") == []
    assert quiet.state["bookmarks"]["lead_conversions"] == bookmark
    assert sell.stats()["reads"] == {"GET /v2/lead_conversions": 1}

    newer = convert_new_leads(api, 3, "Later")
    after = tap_runner(config_for(sell), quiet.state, streams=STREAM)
    assert after.records["lead_conversions"] == newer  # oldest first, each once
    assert tap_runner(config_for(sell), after.state, streams=STREAM).ids("lead_conversions") == []


@pytest.mark.subprocess
@pytest.mark.spec("S9")
def test_a_run_resumes_from_any_emitted_record(sell, tap_runner) -> None:
    """Records go out oldest first, so a STATE at any record is a complete bookmark."""
    api = SellSandboxClient(sell.base_url, TOKEN)
    made = convert_new_leads(api, 6, "Resume")
    ids = [c["id"] for c in made]
    state = {"bookmarks": {"lead_conversions": {"replication_key": "id",
                                                "replication_key_value": ids[2]}}}  # fmt: skip
    resumed = tap_runner(config_for(sell), state, streams=STREAM)
    assert resumed.ids("lead_conversions") == ids[3:]


@pytest.mark.spec("S9")
@pytest.mark.subprocess
def test_start_date_skips_older_conversions_and_a_bookmark_still_wins(sell, tap_runner) -> None:
    api = SellSandboxClient(sell.base_url, TOKEN)
    made = convert_new_leads(api, 2, "Dated")
    future = tap_runner(config_for(sell, start_date="2999-01-01T00:00:00Z"), streams=STREAM)
    assert future.ids("lead_conversions") == []
    past = config_for(sell, start_date="2020-01-01T00:00:00Z")
    everything = tap_runner(past, streams=STREAM)
    assert everything.ids("lead_conversions") == [c["id"] for c in made]
    assert tap_runner(past, everything.state, streams=STREAM).ids("lead_conversions") == []


@pytest.mark.subprocess
@pytest.mark.spec("S6")
def test_a_converted_lead_leaves_the_leads_stream_without_a_marker(sell, tap_runner) -> None:
    """What the sync sees of a conversion: the new records and the conversion, nothing on leads
    (the lead is gone with ``removed`` and unchanged with ``kept``)."""
    api = SellSandboxClient(sell.base_url, TOKEN)
    lead = api.create("leads", first_name="Ann", last_name="Lee", organization_name="Lee & Co")
    before = tap_runner(config_for(sell))
    assert before.ids("leads") == [lead["id"]]

    conversion = api.convert_lead(lead["id"], create_deal=True)
    after = tap_runner(config_for(sell), before.state)

    assert after.records["leads"] == []
    assert after.records["lead_conversions"] == [conversion]
    assert conversion["lead_id"] == lead["id"]
    made = {conversion["individual_id"], conversion["organization_id"]}
    assert set(after.ids("contacts")) == made
    assert after.ids("deals") == [conversion["deal_id"]]
    person = next(c for c in after.records["contacts"] if c["id"] == conversion["individual_id"])
    assert (person["first_name"], person["contact_id"]) == ("Ann", conversion["organization_id"])
    assert person["prospect_status"] == "current"


class ScriptedList:
    """Stands in for ``get_json``: pages of an id-descending list linked by cursors."""

    def __init__(self, ids: list[int], per_page: int, self_link: bool = False) -> None:
        self.ids = sorted(ids, reverse=True)
        self.per_page = per_page
        self.self_link = self_link
        self.requests: list[dict[str, Any]] = []

    def __call__(self, params: dict[str, Any], context: object = None) -> dict:
        self.requests.append(dict(params))
        before = int(params.get("cursor", 10**12))
        rest = [i for i in self.ids if i < before]
        page = rest[: self.per_page]
        items = [{"data": {"id": i, "created_at": "2026-01-01T00:00:00Z"}} for i in page]
        links: dict[str, str] = {}
        if len(rest) > self.per_page:
            cursor = params.get("cursor", page[-1]) if self.self_link else page[-1]
            links["next_page"] = f"https://api.example/v2/lead_conversions?cursor={cursor}"
        return {"items": items, "meta": {"links": links}}


def stream_with(listing: ScriptedList, state: dict | None = None):
    tap = TapSell(config={"api_token": TOKEN, "api_url": "http://127.0.0.1:9"}, state=state or {})
    stream = cast(SellStream, tap.streams["lead_conversions"])
    stream.get_json = listing  # type: ignore[method-assign]
    return stream


@pytest.mark.spec("S9")
def test_offline_follows_next_page_links_and_stops_at_the_bookmark() -> None:
    listing = ScriptedList(list(range(1, 11)), per_page=3)
    state = {"bookmarks": {"lead_conversions": {"replication_key": "id",
                                                "replication_key_value": 4}}}  # fmt: skip
    records = list(stream_with(listing, state).get_records(None))
    assert [r["id"] for r in records] == [5, 6, 7, 8, 9, 10]
    assert listing.requests == [{"per_page": 100}, {"cursor": "8"}, {"cursor": "5"}]


@pytest.mark.spec("S9")
def test_offline_a_next_page_that_links_itself_stops_the_run() -> None:
    listing = ScriptedList(list(range(1, 11)), per_page=3, self_link=True)
    stream = stream_with(listing)
    with pytest.raises(RuntimeError, match="links the page just read"):
        list(stream.get_records(None))
    assert listing.requests == [{"per_page": 100}, {"cursor": "8"}]
