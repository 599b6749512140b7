"""The sync ledger on SQLite (always) and PostgreSQL (when reachable at 127.0.0.1:5432)."""

from __future__ import annotations

import contextlib
import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from contact_mapping import from_sell_contact, to_sell_contact_payload
from contact_mapping.ledger import (
    Adopted,
    Intent,
    Ledger,
    LinkConflictError,
    Snapshot,
    StaleLinkError,
    UnknownLinkError,
    intents,
    migrate,
)
from contact_mapping.ledger.testing import (
    begin_intent,
    complete_intent,
    enqueue_overwritten,
    recent_runs,
    should_retry,
    update_link,
)
from contact_mapping.testing_db import PG_URL, postgres_unreachable


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Connection settings for a fresh, private ledger database; dropped afterwards."""
    if request.param == "sqlite":
        yield {"url": f"sqlite:///{tmp_path / 'ledger.db'}"}
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    schema = f"cm_test_{uuid.uuid4().hex[:12]}"
    yield {"url": PG_URL, "schema": schema}
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture
def open_ledger(db: dict[str, Any]) -> Iterator[Callable[..., Ledger]]:
    opened: list[Ledger] = []

    def _open(tenant: str = "acme") -> Ledger:
        ledger = Ledger(db["url"], tenant, schema=db.get("schema"))
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.close()


VALUES = {"last_name": "Lee", "email": "ann@x.com"}


def test_links_snapshots_and_batched_reads(open_ledger: Callable[..., Ledger]) -> None:
    ledger = open_ledger()
    assert ledger.schema_revision == migrate.head()
    snap = Snapshot(
        base=VALUES,
        exchange_values=VALUES,
        exchange_change_key="ck1",
        exchange_modified="2024-05-01T10:00:00Z",
        sell_values=VALUES,
        sell_updated_at="2024-05-01T11:00:00Z",
        categories=("Sell Person",),
    )
    links = [ledger.create_link(f"AAMk{i}", "contact", 100 + i, snap) for i in range(30)]
    link = ledger.get_link(links[0].id)
    assert link is not None
    assert link.snapshot.exchange_modified == "2024-05-01T10:00:00+00:00"
    assert link.snapshot.sell_fingerprint == snap.sell_fingerprint
    assert link.snapshot.categories == ("Sell Person",)
    assert link.sell_ref == "contact:100"

    selects: list[str] = []

    @sa.event.listens_for(ledger.engine, "before_cursor_execute")
    def _count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    found = ledger.links_for_exchange_ids([f"AAMk{i}" for i in range(40)])
    by_sell = ledger.links_for_sell_ids("contact", [100 + i for i in range(40)])
    assert len(selects) == 2  # one query each, whatever the batch size
    assert set(found) == {f"AAMk{i}" for i in range(30)}
    assert set(by_sell) == {100 + i for i in range(30)}
    assert ledger.links_for_sell_ids("lead", [100]) == {}


@pytest.mark.spec("S4.2", "S6")
def test_links_are_one_to_one_and_retired_links_free_the_records(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    first = ledger.create_link("AAMk1", "contact", 5)
    with pytest.raises(LinkConflictError):
        ledger.create_link("AAMk1", "contact", 6)
    with pytest.raises(LinkConflictError):
        ledger.create_link("AAMk2", "contact", 5)
    ledger.create_link("AAMk2", "lead", 5)  # same id, other kind: another record
    retired = ledger.retire_link(first.id, "deleted in Sell")
    assert (retired.status, retired.retired_reason) == ("retired", "deleted in Sell")
    assert ledger.links_for_exchange_ids(["AAMk1"]) == {}
    seen = ledger.links_for_exchange_ids(["AAMk1"], include_retired=True)["AAMk1"]
    assert not seen.active  # S6: the target leaves it alone instead of re-creating
    again = ledger.create_link("AAMk1", "contact", 9)
    assert ledger.links_for_exchange_ids(["AAMk1"], include_retired=True)["AAMk1"].id == again.id


@pytest.mark.spec("S13.2")
def test_links_of_the_other_protocol_are_rekeyed_in_place(
    open_ledger: Callable[..., Ledger],
) -> None:
    """A switched tenant's link keeps its id, snapshot and Sell side; only the Exchange id is
    replaced, under the version check and the one-to-one rule."""
    ledger = open_ledger()
    snapshot = Snapshot(base={"title": "A"}, exchange_change_key="ck-1")
    ews = ledger.create_link("AAMk/1+", "contact", 1, snapshot)
    ledger.create_link("AAMk2", "contact", 2)
    graph = ledger.create_link("graph:AAkA3", "contact", 3)
    assert {k.id for k in ledger.links_of_other_protocol("graph")} == {ews.id, ews.id + 1}
    assert [k.id for k in ledger.links_of_other_protocol("ews")] == [graph.id]
    moved = ledger.rekey_exchange(ews.id, "graph:AAkA1", ews.version)
    assert (moved.id, moved.exchange_id, moved.sell_ref) == (ews.id, "graph:AAkA1", "contact:1")
    assert moved.snapshot == ews.snapshot
    assert moved.version == ews.version + 1
    assert ledger.links_for_exchange_ids(["AAMk/1+"]) == {}
    assert ledger.links_for_exchange_ids(["graph:AAkA1"])["graph:AAkA1"].id == ews.id
    assert [k.exchange_id for k in ledger.links_of_other_protocol("graph")] == ["AAMk2"]
    with pytest.raises(StaleLinkError):
        ledger.rekey_exchange(ews.id, "graph:AAkA9", ews.version)
    other = ledger.links_for_exchange_ids(["AAMk2"])["AAMk2"]
    with pytest.raises(LinkConflictError):  # one active link per Exchange item
        ledger.rekey_exchange(other.id, "graph:AAkA3", other.version)
    assert ledger.get_link(other.id).exchange_id == "AAMk2"  # type: ignore[union-attr]


@pytest.mark.spec("S3.2")
def test_category_ids_the_mailbox_gave_are_remembered_per_tenant(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    assert ledger.category_ids() == {}
    ledger.remember_category_ids({"Sell Person": "id-1", "Sell Lead": "id-2"})
    ledger.remember_category_ids({"Sell Person": "id-3"})
    assert ledger.category_ids() == {"Sell Person": "id-3", "Sell Lead": "id-2"}
    assert open_ledger("other-tenant").category_ids() == {}


@pytest.mark.spec("S4.3")
def test_s4_3_merged_duplicates_continue_with_the_survivor(
    open_ledger: Callable[..., Ledger],
) -> None:
    ledger = open_ledger()
    a = ledger.create_link("dup-a", "contact", 1)
    ledger.create_link("dup-b", "contact", 2)
    ledger.retire_link(ledger.links_for_sell_ids("contact", [2])[2].id, "merged away in Sell")
    active = {link.exchange_id: link.sell_id for link in ledger.active_links()}
    assert active == {"dup-a": 1}
    survivor = ledger.get_link(a.id)
    assert survivor is not None
    assert survivor.active


@pytest.mark.spec("S15.2")
def test_optimistic_and_locked_snapshot_updates(open_ledger: Callable[..., Ledger]) -> None:
    ledger = open_ledger()
    link = ledger.create_link("AAMk1", "contact", 1, Snapshot(base={"title": "A"}))
    saved = ledger.save_snapshot(link.id, Snapshot(base={"title": "B"}), link.version)
    assert saved.version == link.version + 1
    with pytest.raises(StaleLinkError):
        ledger.save_snapshot(link.id, Snapshot(base={"title": "C"}), link.version)
    bumped = update_link(ledger, link.id, lambda cur: cur.snapshot.evolve(categories=("X",)))
    assert bumped.snapshot.base == {"title": "B"}
    assert bumped.snapshot.categories == ("X",)


@pytest.mark.spec("S11", "S15.3")
def test_tenant_scoping(open_ledger: Callable[..., Ledger]) -> None:
    acme, globex = open_ledger("acme"), open_ledger("globex")
    link = acme.create_link("AAMk1", "contact", 1, Snapshot(base=VALUES))
    assert globex.links_for_exchange_ids(["AAMk1"], include_retired=True) == {}
    assert globex.links_for_sell_ids("contact", [1]) == {}
    assert globex.get_link(link.id) is None
    assert globex.active_links() == []
    for attempt in (
        lambda: update_link(globex, link.id, lambda cur: cur.snapshot),
        lambda: globex.save_snapshot(link.id, Snapshot()),
        lambda: globex.retire_link(link.id, "x"),
    ):
        with pytest.raises(UnknownLinkError):
            attempt()
    untouched = acme.get_link(link.id)
    assert untouched is not None
    assert untouched.active
    globex.create_link("AAMk1", "contact", 1)  # the same ids are another tenant's records
    begin_intent(acme, "exchange_to_sell", "AAMk9", VALUES)
    assert globex.pending_intents("exchange_to_sell") == []
    acme.record_rejection("sell", "AAMk9", "fp", "bad")
    assert globex.rejections_for("sell", ["AAMk9"]) == {}
    acme.remember_organizations({7: "Acme Corp"})
    assert globex.organization_names() == {}
    run = acme.start_run("target-sell-contacts")
    with pytest.raises(LookupError):
        globex.finish_run(run, {"created": 1})
    assert recent_runs(globex) == []


@pytest.mark.spec("S10.1")
def test_rejections_retry_when_the_record_changes(open_ledger: Callable[..., Ledger]) -> None:
    ledger = open_ledger()
    ledger.record_rejection("sell", "AAMk1", "fp1", "422 last_name: blank")
    assert not should_retry(ledger, "sell", "AAMk1", "fp1")
    assert should_retry(ledger, "sell", "AAMk1", "fp2")
    ledger.record_rejection("sell", "AAMk1", "fp2", "422 email: invalid")
    found = ledger.rejections_for("sell", ["AAMk1", "other"])
    assert list(found) == ["AAMk1"]
    assert (found["AAMk1"].fingerprint, found["AAMk1"].attempts) == ("fp2", 2)
    assert found["AAMk1"].reason == "422 email: invalid"
    ledger.clear_rejection("sell", "AAMk1")
    assert should_retry(ledger, "sell", "AAMk1", "fp2")


def test_organizations_and_runs(open_ledger: Callable[..., Ledger]) -> None:
    ledger = open_ledger()
    ledger.remember_organizations({7: "Acme", 8: "Globex"})
    ledger.remember_organizations({7: "Acme Corp"})
    assert ledger.organization_names() == {7: "Acme Corp", 8: "Globex"}
    assert ledger.organization_names([8]) == {8: "Globex"}
    run = ledger.start_run("target-exchange")
    ledger.finish_run(run, {"contacts": {"created": 2}})
    (row,) = recent_runs(ledger, "target-exchange")
    assert row.counts == {"contacts": {"created": 2}}
    assert row.finished_at is not None


# -- crash safety -------------------------------------------------------------------------------
class CrashError(Exception):
    pass


class FakeSell:
    """A Sell account reduced to what the create protocol needs."""

    def __init__(self, marker_field: str | None) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.marker_field = marker_field

    def create(self, payload: dict[str, Any], exchange_id: str) -> int:
        new_id = 1000 + len(self.records)
        record = {"id": new_id, **payload, "created_at": datetime.now(UTC).isoformat()}
        if self.marker_field:
            record["custom_fields"] = {self.marker_field: exchange_id}
        self.records[new_id] = record
        return new_id

    def finder(self, intent: Intent) -> Adopted | None:
        """The target's callback: look the marker up, else fingerprint + created after intent."""
        for record in self.records.values():
            if self.marker_field:
                hit = record.get("custom_fields", {}).get(self.marker_field) == intent.source_id
            else:
                created = datetime.fromisoformat(record["created_at"])
                fp = from_sell_contact(record).fingerprint()
                hit = created >= intent.started_at and fp == intent.payload_fingerprint
            if hit:
                values = from_sell_contact(record).values()
                return Adopted(intent.source_id, "contact", record["id"], values)
        return None


def sync_create(ledger: Ledger, sell: FakeSell, exchange_id: str, crash_at: str | None) -> None:
    """target-sell-contacts creating one Sell contact, with an optional crash point."""
    ledger.resolve_intents("exchange_to_sell", sell.finder)
    if ledger.links_for_exchange_ids([exchange_id]):
        return
    canonical = from_sell_contact({"last_name": "Lee", "email": "ann@x.com"})
    intent = begin_intent(
        ledger, "exchange_to_sell", exchange_id, canonical.values(), source_change_key="ck1"
    )
    if crash_at == "after_intent":
        raise CrashError
    sell_id = sell.create(to_sell_contact_payload(canonical), exchange_id)
    if crash_at == "after_create":
        raise CrashError
    snapshot = Snapshot(base=canonical.values(), exchange_values=canonical.values())
    complete_intent(ledger, intent, exchange_id, "contact", sell_id, snapshot)
    if crash_at == "after_link":
        raise CrashError


@pytest.mark.spec("S7.2")
@pytest.mark.parametrize("crash_at", ["after_intent", "after_create", "in_link_tx", "after_link"])
@pytest.mark.parametrize("marker_field", ["exchange_id", None])
def test_crash_at_any_point_never_creates_a_second_record(
    open_ledger: Callable[..., Ledger],
    monkeypatch: pytest.MonkeyPatch,
    crash_at: str,
    marker_field: str | None,
) -> None:
    ledger = open_ledger()
    sell = FakeSell(marker_field)
    if crash_at == "in_link_tx":
        # The link row is inserted, then the intent delete fails: the transaction must roll back.
        def boom(*_a: Any) -> int:
            raise CrashError

        with monkeypatch.context() as patch:
            patch.setattr(intents, "delete", boom)
            with pytest.raises(CrashError):
                sync_create(ledger, sell, "AAMk1", None)
        assert ledger.links_for_exchange_ids(["AAMk1"]) == {}
    else:
        with pytest.raises(CrashError):
            sync_create(ledger, sell, "AAMk1", crash_at)
    sync_create(ledger, sell, "AAMk1", None)  # the re-run
    sync_create(ledger, sell, "AAMk1", None)  # and a replay
    assert len(sell.records) == 1
    (sell_id,) = sell.records
    link = ledger.links_for_exchange_ids(["AAMk1"])["AAMk1"]
    assert link.sell_id == sell_id
    assert ledger.pending_intents("exchange_to_sell") == []
    if crash_at in {"after_create", "in_link_tx"}:
        assert link.snapshot.base == {**from_sell_contact({}).values(), **VALUES}


@pytest.mark.spec("S7.2")
def test_intents_are_idempotent_and_per_direction(open_ledger: Callable[..., Ledger]) -> None:
    ledger = open_ledger()
    one = begin_intent(
        ledger, "sell_to_exchange", "contact:7", VALUES, source_modified="2024-01-01"
    )
    again = begin_intent(ledger, "sell_to_exchange", "contact:7", VALUES)
    assert one == again
    assert ledger.pending_intents("exchange_to_sell") == []
    assert [i.source_id for i in ledger.pending_intents("sell_to_exchange")] == ["contact:7"]
    with pytest.raises(ValueError, match="direction"):
        begin_intent(ledger, "sideways", "x", VALUES)
    ledger.create_link("AAMk7", "contact", 7)
    outcomes = ledger.resolve_intents(
        "sell_to_exchange", lambda i: Adopted("AAMk-other", "contact", 7, VALUES)
    )
    assert [o.outcome for o in outcomes] == ["already_linked"]
    assert ledger.pending_intents("sell_to_exchange") == []
    begin_intent(ledger, "sell_to_exchange", "contact:8", VALUES, source_change_key=None)
    (adopted,) = ledger.resolve_intents(
        "sell_to_exchange", lambda i: Adopted("AAMk8", "contact", 8, {"title": "x"}, None, "ck9")
    )
    assert adopted.outcome == "adopted"
    assert adopted.link is not None
    assert adopted.link.snapshot.exchange_change_key == "ck9"
    assert adopted.link.snapshot.sell_values == VALUES


# -- two processes at once -----------------------------------------------------------------------
ROUNDS = 40


def _writer(db: dict[str, Any], link_id: int, who: int, errors: Any) -> None:
    try:
        with Ledger(db["url"], "acme", schema=db.get("schema")) as ledger:
            for i in range(ROUNDS):

                def bump(cur: Any) -> Snapshot:
                    count = int((cur.snapshot.base or {}).get("notes") or 0)
                    return cur.snapshot.evolve(base={"notes": str(count + 1)})

                update_link(ledger, link_id, bump)
                ledger.record_rejection("sell", "shared", f"fp{who}-{i}", "x")
                with contextlib.suppress(LinkConflictError):  # the other process won this one
                    ledger.create_link(f"race-{i}", "contact", 10_000 + i)
    except BaseException as exc:  # report to the parent; a child's traceback is lost otherwise
        errors.put(f"{who}: {exc!r}")


@pytest.mark.spec("S15.2")
@pytest.mark.subprocess
def test_two_concurrent_writer_processes_lose_no_update(
    open_ledger: Callable[..., Ledger], db: dict[str, Any]
) -> None:
    ledger = open_ledger()
    link = ledger.create_link("AAMk1", "contact", 1, Snapshot(base={"notes": "0"}))
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    workers = [ctx.Process(target=_writer, args=(db, link.id, n, errors)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    assert errors.empty(), errors.get()
    final = ledger.get_link(link.id)
    assert final is not None
    assert final.snapshot.base == {"notes": str(2 * ROUNDS)}
    assert final.version == link.version + 2 * ROUNDS
    assert ledger.rejections_for("sell", ["shared"])["shared"].attempts == 2 * ROUNDS
    raced = ledger.links_for_exchange_ids([f"race-{i}" for i in range(ROUNDS)])
    assert len(raced) == ROUNDS  # exactly one link each, the loser got LinkConflictError


# -- S5.2 queue: values Sell beat in Sell→Exchange, kept in Sell by the other target --------------
@pytest.mark.spec("S5.2")
def test_overwritten_queue_enqueued_with_the_merge_and_delivered_once(
    open_ledger: Callable[..., Ledger],
) -> None:
    from contact_mapping.ledger import OverwrittenValue
    from contact_mapping.merge import append_overwritten

    ledger, other = open_ledger(), open_ledger("other-tenant")
    link = ledger.create_link("AAMk-1", "contact", 7, Snapshot(base=VALUES))
    lost = OverwrittenValue(
        "contact", 7, "title", "CTO", "exchange", "2025-03-01T09:00:00Z", exchange_id="AAMk-1"
    )
    ledger.save_snapshot(link.id, Snapshot(base={**VALUES, "title": "CEO"}), overwritten=[lost])
    ledger.create_link(
        "AAMk-2",
        "lead",
        8,
        overwritten=[OverwrittenValue("lead", 8, "email", "a@b.org", "exchange", None)],
    )
    enqueue_overwritten(other, [OverwrittenValue("contact", 7, "title", "X", "exchange")])

    pending = ledger.pending_overwritten()
    assert [(p.sell_ref, p.field, p.value) for p in pending] == [
        ("contact:7", "title", "CTO"),
        ("lead:8", "email", "a@b.org"),
    ]
    assert pending[0].origin_time == "2025-03-01T09:00:00+00:00"
    assert pending[0].exchange_id == "AAMk-1"
    assert pending[0].status == "pending"
    assert [p.sell_ref for p in ledger.pending_overwritten("lead")] == ["lead:8"]
    assert ledger.pending_overwritten("contact", [99]) == []
    text = append_overwritten("", [p.as_overwritten() for p in pending[:1]])
    assert text == '2025-03-01T09:00:00Z exchange title: "CTO"'

    # Another tenant's ids are neither visible nor markable.
    ids = [p.id for p in pending if p.id is not None]
    assert len(ids) == len(pending)
    assert other.mark_overwritten_delivered(ids) == 0
    assert ledger.mark_overwritten_delivered([ids[0], ids[0]]) == 1
    assert ledger.mark_overwritten_delivered([ids[0]]) == 0  # already delivered
    assert [p.sell_ref for p in ledger.pending_overwritten()] == ["lead:8"]
    assert [p.value for p in other.pending_overwritten()] == ["X"]


@pytest.mark.spec("S5.2")
def test_overwritten_values_roll_back_with_a_failed_snapshot_write(
    open_ledger: Callable[..., Ledger],
) -> None:
    from contact_mapping.ledger import OverwrittenValue

    ledger = open_ledger()
    link = ledger.create_link("AAMk-1", "contact", 7)
    lost = OverwrittenValue("contact", 7, "title", "CTO", "exchange")
    with pytest.raises(StaleLinkError):
        ledger.save_snapshot(link.id, Snapshot(), expected_version=99, overwritten=[lost])
    with pytest.raises(LinkConflictError):
        ledger.create_link("AAMk-1", "contact", 8, overwritten=[lost])
    assert ledger.pending_overwritten() == []


@pytest.mark.spec("S7.2")
def test_begin_intents_batch_is_one_commit_and_keeps_pending_ones(
    open_ledger: Callable[..., Ledger],
) -> None:
    from contact_mapping.ledger import NewIntent

    ledger = open_ledger()
    old = begin_intent(ledger, "sell_to_exchange", "contact:1", VALUES)
    got = ledger.begin_intents(
        "sell_to_exchange",
        [NewIntent("contact:1", {"x": "y"}), NewIntent("contact:2", VALUES, "2025-01-01T00:00Z")],
    )
    assert got["contact:1"].id == old.id  # the pending one, untouched
    assert got["contact:2"].source_values == VALUES
    assert got["contact:2"].source_modified == "2025-01-01T00:00:00+00:00"
    assert sorted(i.source_id for i in ledger.pending_intents("sell_to_exchange")) == [
        "contact:1",
        "contact:2",
    ]
    assert ledger.begin_intents("sell_to_exchange", []) == {}


@pytest.mark.spec("S4.2", "S7.2")
def test_complete_intents_batch_links_and_skips_taken_records(
    open_ledger: Callable[..., Ledger],
) -> None:
    from contact_mapping.ledger import NewIntent

    ledger = open_ledger()
    ledger.create_link("AAMk-taken", "contact", 99)
    got = ledger.begin_intents(
        "sell_to_exchange", [NewIntent(f"contact:{i}", VALUES) for i in (1, 2)]
    )
    done = ledger.complete_intents(
        [
            (got["contact:1"], "AAMk-1", "contact", 1, Snapshot(base=VALUES)),
            (got["contact:2"], "AAMk-taken", "contact", 2, Snapshot(base=VALUES)),
        ]
    )
    first = done[got["contact:1"].id]
    assert first is not None
    assert first.snapshot.base == VALUES
    assert done[got["contact:2"].id] is None
    assert ledger.pending_intents("sell_to_exchange") == []
    assert set(ledger.links_for_sell_ids("contact", [1, 2, 99])) == {1, 99}
