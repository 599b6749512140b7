"""The ledger's schema through Alembic: new databases, ledgers made before Alembic (v1 to v4),
two processes opening one new database, and a database newer than the code.

SQLite always; PostgreSQL when the server at 127.0.0.1:5432 answers, in a database of the
test's own, with the tables in ``public`` and in a schema of their own (``Ledger(schema=…)``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from contact_mapping.ledger import (
    Ledger,
    LinkConflictError,
    OverwrittenValue,
    SchemaTooNewError,
    Snapshot,
    migrate,
)
from contact_mapping.ledger.schema import metadata
from contact_mapping.ledger.testing import enqueue_overwritten, recent_runs, update_link
from contact_mapping.testing_db import postgres_unreachable, private_postgres_database

FIXTURES = Path(__file__).parent / "fixtures"
SCHEMA = "tenant_ledgers"
VERSION = sa.table(migrate.VERSION_TABLE, sa.column("version_num"))


@dataclass(frozen=True)
class Place:
    """Where a test's ledger lives: a database URL and, on PostgreSQL, maybe a schema."""

    url: str
    schema: str | None = None

    @property
    def dialect(self) -> str:
        return sa.make_url(self.url).get_backend_name()

    def open(self, tenant: str = "acme") -> Ledger:
        return Ledger(self.url, tenant, schema=self.schema)

    def execute(self, statements: list[str], rows: dict[str, list[dict[str, Any]]]) -> None:
        """Run raw DDL, then insert rows per table, as code before Alembic would have."""
        engine = sa.create_engine(self.url)
        with engine.begin() as conn:
            if self.schema:
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                conn.exec_driver_sql(f'SET search_path TO "{self.schema}"')
            for statement in statements:
                conn.exec_driver_sql(statement)
            for table, values in rows.items():
                columns = [
                    sa.column(k, sa.JSON() if isinstance(v, dict | list) else None)
                    for k, v in values[0].items()
                ]
                conn.execute(sa.table(table, *columns).insert(), values)
        engine.dispose()

    def connect(self) -> sa.Engine:
        engine = sa.create_engine(self.url)
        if self.schema:

            @sa.event.listens_for(engine, "connect")
            def _path(dbapi_connection: Any, _record: Any) -> None:
                with dbapi_connection.cursor() as cursor:
                    cursor.execute(f'SET search_path TO "{self.schema}"')
                dbapi_connection.commit()

        return engine


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
        pytest.param("postgresql-schema", marks=pytest.mark.postgres),
    ]
)
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Place]:
    if request.param == "sqlite":
        yield Place(f"sqlite:///{tmp_path / 'ledger.db'}")
        return
    reason = postgres_unreachable()
    if reason:
        pytest.skip(reason)
    with private_postgres_database("ledger_migrations") as url:
        yield Place(url, SCHEMA if request.param == "postgresql-schema" else None)


def frozen_v4_ddl(dialect: str) -> list[str]:
    """The v4 schema as contact-mapping created it before Alembic (tests/fixtures)."""
    text = (FIXTURES / f"ledger_v4.{dialect}.sql").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip()]


def stored_revision(place: Place) -> list[str]:
    engine = place.connect()
    with engine.connect() as conn:
        found = list(conn.execute(sa.select(VERSION.c.version_num)).scalars())
    engine.dispose()
    return found


def _partial(indexes: Iterable[dict[str, Any]]) -> set[str]:
    return {
        ix["name"] for ix in indexes if ix["dialect_options"].get(WHERE[ix["dialect"]]) is not None
    }


WHERE = {"sqlite": "sqlite_where", "postgresql": "postgresql_where"}


def schema_differences(place: Place) -> list[Any]:
    """What Alembic's autogenerate would change to make the database equal schema.py, plus
    the partial indexes, whose ``WHERE`` autogenerate does not compare."""
    engine = place.connect()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": migrate.VERSION_TABLE})
        diff = compare_metadata(context, metadata)
        have = _partial(
            {**ix, "dialect": place.dialect}
            for table in metadata.sorted_tables
            for ix in sa.inspect(conn).get_indexes(table.name)
        )
    engine.dispose()
    want = {
        str(ix.name)
        for table in metadata.sorted_tables
        for ix in table.indexes
        if ix.dialect_options[place.dialect]["where"] is not None
    }
    return diff if have == want else [*diff, ("partial indexes", sorted(have), sorted(want))]


T0, T1 = "2026-11-02T09:00:00+00:00", "2026-11-02T10:00:00+00:00"
SNAPSHOT = {
    "base": {"last_name": "Lee", "title": "CTO"},
    "exchange_values": {"last_name": "Lee", "title": "CTO"},
    "exchange_fingerprint": "f" * 64,
    "exchange_modified": T0,
    "exchange_change_key": "CQAAAB-ck2",
    "sell_values": {"last_name": "Lee", "title": "CTO"},
    "sell_fingerprint": "e" * 64,
    "sell_updated_at": T1,
    "categories": ["Sell Person"],
    "exchange_superseded_key": "CQAAAB-ck1",
    "sell_superseded_values": {"last_name": "Lee", "title": "VP"},
}
LINK = {"status": "active", "created_at": T0, "updated_at": T1, "retired_reason": None}
V4_ROWS: dict[str, list[dict[str, Any]]] = {
    "links": [
        {
            **LINK,
            "tenant": "acme",
            "exchange_id": "AAMk-1",
            "sell_kind": "contact",
            "sell_id": 7,
            "version": 3,
            **SNAPSHOT,
        },
        {
            **LINK,
            "tenant": "acme",
            "exchange_id": "AAMk-2",
            "sell_kind": "lead",
            "sell_id": 8,
            "version": 2,
            **SNAPSHOT,
            "status": "retired",
            "retired_reason": "deleted in Sell",
        },
        {
            **LINK,
            "tenant": "globex",
            "exchange_id": "AAMk-1",
            "sell_kind": "contact",
            "sell_id": 70,
            "version": 1,
            **SNAPSHOT,
        },
    ],
    "intents": [
        {
            "tenant": "acme",
            "direction": "sell_to_exchange",
            "source_id": "contact:9",
            "idempotency_key": "k" * 32,
            "payload_fingerprint": "a" * 64,
            "source_values": {"last_name": "Ng"},
            "source_modified": T0,
            "started_at": T1,
        },
    ],
    "rejections": [
        {
            "tenant": "acme",
            "side": "sell",
            "record_id": "AAMk-3",
            "fingerprint": "fp3",
            "reason": "422 email: invalid",
            "rejected_at": T1,
            "attempts": 2,
        },
        {  # target-exchange before v5: kept under the side that rejected it
            "tenant": "acme",
            "side": "exchange",
            "record_id": "contact:12",
            "fingerprint": "fp12",
            "reason": "ErrorInvalidPropertyValue",
            "rejected_at": T1,
            "attempts": 1,
        },
    ],
    "organizations": [{"tenant": "acme", "sell_id": 7, "name": "Acme Corp", "updated_at": T0}],
    "overwritten_values": [
        {
            "tenant": "acme",
            "sell_kind": "contact",
            "sell_id": 7,
            "exchange_id": "AAMk-1",
            "field": "title",
            "value": {"v": "CTO"},
            "origin": "exchange",
            "origin_time": T0,
            "recorded_at": T1,
            "status": "pending",
        },
    ],
    "runs": [
        {
            "tenant": "acme",
            "target": "target-exchange",
            "started_at": T0,
            "finished_at": T1,
            "counts": {"contacts": {"updated": 1}},
        },
    ],
}


@pytest.mark.spec("S4.2", "S15.3")
def test_a_v4_ledger_from_before_alembic_is_upgraded_in_place(place: Place) -> None:
    place.execute(frozen_v4_ddl(place.dialect), V4_ROWS)

    with place.open() as ledger:
        assert (ledger.upgraded_from, ledger.schema_revision) == ("v4", migrate.head())
        found = ledger.links_for_exchange_ids(["AAMk-1", "AAMk-2"], include_retired=True)
        link, retired = found["AAMk-1"], found["AAMk-2"]
        assert (link.sell_ref, link.version, link.active) == ("contact:7", 3, True)
        assert link.snapshot.base == SNAPSHOT["base"]
        assert link.snapshot.categories == ("Sell Person",)
        assert link.snapshot.exchange_change_key == "CQAAAB-ck2"
        assert link.snapshot.sell_updated_at == T1
        assert link.snapshot.exchange_superseded_key == "CQAAAB-ck1"
        assert link.snapshot.sell_superseded_values == {"last_name": "Lee", "title": "VP"}
        assert (retired.status, retired.retired_reason) == ("retired", "deleted in Sell")
        (intent,) = ledger.pending_intents("sell_to_exchange")
        assert (intent.source_id, intent.source_values) == ("contact:9", {"last_name": "Ng"})
        rejection = ledger.rejections_for("sell", ["AAMk-3"])["AAMk-3"]
        assert (rejection.fingerprint, rejection.attempts) == ("fp3", 2)
        # v5: a rejection is kept under the side its record came from, in both directions.
        assert ledger.rejections_for("sell", ["contact:12"])["contact:12"].fingerprint == "fp12"
        assert ledger.rejections_for("exchange", ["contact:12"]) == {}
        assert ledger.organization_names() == {7: "Acme Corp"}
        (kept,) = ledger.pending_overwritten()
        assert (kept.sell_ref, kept.field, kept.value) == ("contact:7", "title", {"v": "CTO"})
        (run,) = recent_runs(ledger)
        assert run.counts == {"contacts": {"updated": 1}}

        # The upgraded tables behave as before: the optimistic version, the partial unique
        # indexes (one active link per record, S4.2; a retired one frees it), the id sequences.
        saved = ledger.save_snapshot(link.id, link.snapshot.evolve(categories=()), 3)
        assert saved.version == 4
        with pytest.raises(LinkConflictError):
            ledger.create_link("AAMk-1", "contact", 99)
        relinked = ledger.create_link("AAMk-2", "lead", 8, Snapshot(base={"title": "CTO"}))
        assert relinked.id > max(link.id, retired.id)
        assert kept.id is not None
        assert ledger.mark_overwritten_delivered([kept.id]) == 1

    with place.open("globex") as other:  # tenants stay apart (S15.3)
        assert other.links_for_exchange_ids(["AAMk-1", "AAMk-2"])["AAMk-1"].sell_id == 70
        assert "AAMk-2" not in other.links_for_exchange_ids(["AAMk-2"], include_retired=True)
        assert other.pending_intents("sell_to_exchange") == []
    with place.open() as reopened:
        assert reopened.upgraded_from == migrate.head()  # stamped once, nothing left to do
    assert stored_revision(place) == [migrate.head()]
    assert schema_differences(place) == []  # the v4 baseline revision is the v4 schema


def test_migrations_build_the_schema_the_queries_use(place: Place) -> None:
    with place.open() as ledger:
        assert (ledger.upgraded_from, ledger.schema_revision) == (None, migrate.head())
    assert schema_differences(place) == []
    assert stored_revision(place) == [migrate.head()]


V1_DDL = [
    "CREATE TABLE meta (key VARCHAR(64) PRIMARY KEY, value VARCHAR(255) NOT NULL)",
    """CREATE TABLE links (id {pk}, tenant VARCHAR(200) NOT NULL,
        exchange_id VARCHAR(1024) NOT NULL, sell_kind VARCHAR(16) NOT NULL,
        sell_id BIGINT NOT NULL, status VARCHAR(16) NOT NULL DEFAULT 'active',
        retired_reason TEXT, retired_at VARCHAR(40), created_at VARCHAR(40) NOT NULL,
        updated_at VARCHAR(40) NOT NULL, version INTEGER NOT NULL DEFAULT 1, base JSON,
        exchange_values JSON, exchange_fingerprint VARCHAR(64), exchange_modified VARCHAR(40),
        exchange_change_key VARCHAR(1024), sell_values JSON, sell_fingerprint VARCHAR(64),
        sell_updated_at VARCHAR(40))""",
    """CREATE UNIQUE INDEX uq_links_active_exchange ON links (tenant, exchange_id)
        WHERE status = 'active'""",
    """CREATE TABLE intents (id {pk}, tenant VARCHAR(200) NOT NULL,
        direction VARCHAR(32) NOT NULL, source_id VARCHAR(1024) NOT NULL,
        idempotency_key VARCHAR(64) NOT NULL UNIQUE, payload_fingerprint VARCHAR(64) NOT NULL,
        source_values JSON, source_modified VARCHAR(40), source_change_key VARCHAR(1024),
        started_at VARCHAR(40) NOT NULL, UNIQUE (tenant, direction, source_id))""",
    """CREATE TABLE runs (id {pk}, tenant VARCHAR(200) NOT NULL, target VARCHAR(100) NOT NULL,
        started_at VARCHAR(40) NOT NULL, finished_at VARCHAR(40), counts JSON)""",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
    """INSERT INTO links (tenant, exchange_id, sell_kind, sell_id, status, created_at,
        updated_at, version, base) VALUES ('acme', 'AAMk-old', 'contact', 42, 'active',
        '2023-01-01T00:00:00+00:00', '2023-01-01T00:00:00+00:00', 3, '{"title": "CTO"}')""",
]


def test_a_v1_ledger_is_upgraded_through_every_revision(place: Place) -> None:
    pk = "BIGSERIAL PRIMARY KEY" if place.dialect == "postgresql" else "INTEGER PRIMARY KEY"
    place.execute([s.replace("{pk}", pk) for s in V1_DDL], {})
    with place.open() as ledger:
        assert (ledger.upgraded_from, ledger.schema_revision) == ("v1", migrate.head())
        old = ledger.links_for_exchange_ids(["AAMk-old"])["AAMk-old"]
        assert (old.sell_id, old.version, old.snapshot.base) == (42, 3, {"title": "CTO"})
        assert old.snapshot.categories is None  # v2's column, empty until written
        assert old.snapshot.exchange_superseded_key is None  # v4's
        update_link(
            ledger,
            old.id,
            lambda cur: cur.snapshot.evolve(
                categories=("Sell Person",), exchange_superseded_key="CQAAAB-ck0"
            ),
        )
        ledger.record_rejection("sell", "AAMk-old", "fp", "x")  # v2's tables
        ledger.remember_organizations({1: "Acme"})
        enqueue_overwritten(ledger, [OverwrittenValue("contact", 42, "title", "CTO", "exchange")])
    with place.open() as reopened:
        assert reopened.upgraded_from == migrate.head()
        again = reopened.links_for_exchange_ids(["AAMk-old"])["AAMk-old"].snapshot
        assert (again.categories, again.exchange_superseded_key) == (("Sell Person",), "CQAAAB-ck0")
        assert [p.value for p in reopened.pending_overwritten()] == ["CTO"]  # v3's queue


def _pre_alembic(place: Place, revision: str) -> None:
    """A database at ``revision`` as code before Alembic left it: no Alembic version table."""
    engine = place.connect()
    with engine.begin() as conn:
        if place.schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{place.schema}"')
        config = migrate.config(conn)
        command.upgrade(config, revision)
        conn.exec_driver_sql("DROP TABLE " + migrate.VERSION_TABLE)
    engine.dispose()


@pytest.mark.parametrize("legacy", ["v2", "v3"])
def test_v2_and_v3_ledgers_are_stamped_and_upgraded(place: Place, legacy: str) -> None:
    _pre_alembic(place, legacy)
    with place.open() as ledger:
        assert (ledger.upgraded_from, ledger.schema_revision) == (legacy, migrate.head())
        link = ledger.create_link("AAMk-1", "contact", 7)
        update_link(ledger, link.id, lambda cur: cur.snapshot.evolve(exchange_superseded_key="k"))
        enqueue_overwritten(ledger, [OverwrittenValue("contact", 7, "title", "CTO", "exchange")])
        assert [p.value for p in ledger.pending_overwritten()] == ["CTO"]
    assert schema_differences(place) == []


def test_a_newer_schema_is_refused(place: Place) -> None:
    with place.open():
        pass
    engine = place.connect()
    with engine.begin() as conn:
        conn.execute(VERSION.update().values(version_num="v99_future"))
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match=r"'v99_future' is newer than this contact-mapping"):
        place.open()


def test_a_newer_schema_from_before_alembic_is_refused(place: Place) -> None:
    _pre_alembic(place, "v4")
    engine = place.connect()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    engine.dispose()
    with pytest.raises(SchemaTooNewError, match="version 99 is newer"):
        place.open()


def _open_at_once(place: Place, tenant: str, barrier: Any, errors: Any) -> None:
    try:
        barrier.wait(timeout=60)
        with place.open(tenant) as ledger:
            ledger.create_link(f"AAMk-{tenant}", "contact", 1)
    except BaseException as exc:  # report to the parent; a child's traceback is lost otherwise
        errors.put(f"{tenant}: {exc!r}")


@pytest.mark.spec("S15.2")
@pytest.mark.subprocess
def test_two_processes_opening_one_new_database_create_it_once(place: Place) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(3), ctx.Queue()
    workers = [
        ctx.Process(target=_open_at_once, args=(place, tenant, barrier, errors))
        for tenant in ("acme", "globex", "initech")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    assert errors.empty(), errors.get()
    assert stored_revision(place) == [migrate.head()]
    with place.open("globex") as ledger:
        assert ledger.upgraded_from == migrate.head()
        assert set(ledger.links_for_exchange_ids(["AAMk-globex", "AAMk-acme"])) == {"AAMk-globex"}
