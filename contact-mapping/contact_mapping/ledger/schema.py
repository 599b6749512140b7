"""Ledger tables (SQLAlchemy Core) and the schema upgrade steps.

Every table except ``meta`` carries ``tenant`` and every query filters on it. Times are ISO-8601
UTC strings so SQLite and PostgreSQL store and compare them the same way.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

SCHEMA_VERSION = 4

metadata = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_TS = sa.String(40)

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(255), nullable=False),
)

links = sa.Table(
    "links",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(200), nullable=False),
    sa.Column("exchange_id", sa.String(1024), nullable=False),
    sa.Column("sell_kind", sa.String(16), nullable=False),
    sa.Column("sell_id", sa.BigInteger(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("retired_reason", sa.Text()),
    sa.Column("retired_at", _TS),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("base", sa.JSON()),
    sa.Column("exchange_values", sa.JSON()),
    sa.Column("exchange_fingerprint", sa.String(64)),
    sa.Column("exchange_modified", _TS),
    sa.Column("exchange_change_key", sa.String(1024)),
    sa.Column("sell_values", sa.JSON()),
    sa.Column("sell_fingerprint", sa.String(64)),
    sa.Column("sell_updated_at", _TS),
    sa.Column("categories", sa.JSON()),  # v2
    sa.Column("exchange_superseded_key", sa.String(1024)),  # v4
    sa.Column("sell_superseded_values", sa.JSON()),  # v4
)
_active = links.c.status == "active"
sa.Index(
    "uq_links_active_exchange",
    links.c.tenant,
    links.c.exchange_id,
    unique=True,
    sqlite_where=_active,
    postgresql_where=_active,
)
sa.Index(
    "uq_links_active_sell",
    links.c.tenant,
    links.c.sell_kind,
    links.c.sell_id,
    unique=True,
    sqlite_where=_active,
    postgresql_where=_active,
)
sa.Index("ix_links_exchange", links.c.tenant, links.c.exchange_id)
sa.Index("ix_links_sell", links.c.tenant, links.c.sell_kind, links.c.sell_id)

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(200), nullable=False),
    sa.Column("direction", sa.String(32), nullable=False),
    sa.Column("source_id", sa.String(1024), nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("payload_fingerprint", sa.String(64), nullable=False),
    sa.Column("source_values", sa.JSON()),
    sa.Column("source_modified", _TS),
    sa.Column("source_change_key", sa.String(1024)),
    sa.Column("started_at", _TS, nullable=False),
    sa.UniqueConstraint("tenant", "direction", "source_id", name="uq_intents_source"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(200), nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("started_at", _TS, nullable=False),
    sa.Column("finished_at", _TS),
    sa.Column("counts", sa.JSON()),
)

# --- added in v2 -------------------------------------------------------------------------------
rejections = sa.Table(
    "rejections",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("side", sa.String(16), primary_key=True),
    sa.Column("record_id", sa.String(1024), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("rejected_at", _TS, nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("sell_id", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)

# --- added in v3 -------------------------------------------------------------------------------
overwritten_values = sa.Table(
    "overwritten_values",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(200), nullable=False),
    sa.Column("sell_kind", sa.String(16), nullable=False),
    sa.Column("sell_id", sa.BigInteger(), nullable=False),
    sa.Column("exchange_id", sa.String(1024)),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("value", sa.JSON()),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("origin_time", _TS),
    sa.Column("recorded_at", _TS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("delivered_at", _TS),
)
sa.Index(
    "ix_overwritten_pending",
    overwritten_values.c.tenant,
    overwritten_values.c.status,
    overwritten_values.c.id,
)


def _column_names(conn: sa.Connection, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def _upgrade_to_2(conn: sa.Connection) -> None:
    """v2: rejections and organisations tables, categories last written per link."""
    for table in (rejections, organizations):
        table.create(conn, checkfirst=True)
    if "categories" not in _column_names(conn, "links"):
        json_type = sa.JSON().compile(dialect=conn.dialect)
        conn.exec_driver_sql(f"ALTER TABLE links ADD COLUMN categories {json_type}")


def _upgrade_to_3(conn: sa.Connection) -> None:
    """v3: queue of values that lost a conflict in Sell→Exchange, to be kept in Sell (S5.2)."""
    overwritten_values.create(conn, checkfirst=True)


def _upgrade_to_4(conn: sa.Connection) -> None:
    """v4: per link, the version our last write replaced on each side (late replays, S7.2)."""
    have = _column_names(conn, "links")
    json_type = sa.JSON().compile(dialect=conn.dialect)
    if "exchange_superseded_key" not in have:
        conn.exec_driver_sql("ALTER TABLE links ADD COLUMN exchange_superseded_key VARCHAR(1024)")
    if "sell_superseded_values" not in have:
        conn.exec_driver_sql(f"ALTER TABLE links ADD COLUMN sell_superseded_values {json_type}")


#: version reached → step that gets there from the version before it.
UPGRADES: dict[int, Callable[[sa.Connection], None]] = {
    2: _upgrade_to_2,
    3: _upgrade_to_3,
    4: _upgrade_to_4,
}


def read_version(conn: sa.Connection) -> int | None:
    """Schema version of the database, or None for an empty one."""
    if not sa.inspect(conn).has_table("meta"):
        return None
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else None


def _write_version(conn: sa.Connection, version: int) -> None:
    updated = conn.execute(
        meta.update().where(meta.c.key == "schema_version").values(value=str(version))
    )
    if updated.rowcount == 0:
        conn.execute(meta.insert().values(key="schema_version", value=str(version)))


def ensure_schema(conn: sa.Connection) -> tuple[int | None, int]:
    """Create or upgrade in the caller's transaction; returns (version found, version now)."""
    found = read_version(conn)
    if found is None:
        metadata.create_all(conn)
        _write_version(conn, SCHEMA_VERSION)
        return None, SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        msg = (
            f"ledger schema version {found} is newer than this contact-mapping "
            f"(knows up to {SCHEMA_VERSION}); upgrade contact-mapping"
        )
        raise RuntimeError(msg)
    for version in range(found + 1, SCHEMA_VERSION + 1):
        UPGRADES[version](conn)
        _write_version(conn, version)
    return found, SCHEMA_VERSION
