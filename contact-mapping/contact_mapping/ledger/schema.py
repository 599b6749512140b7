"""Ledger tables (SQLAlchemy Core), as the queries see them at the newest revision.

The Alembic revisions in ``migrations/versions`` create and change the database; these tables
must equal what they build (``test_migrations_build_the_schema_the_queries_use`` compares
them). Every table except ``meta`` carries ``tenant`` and every query filters on it. Times are
ISO-8601 UTC strings so SQLite and PostgreSQL store and compare them the same way.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only
_TS = sa.String(40)

# Before Alembic, the schema version; still written so that older code can tell (migrate.py).
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

# --- added in v6 -------------------------------------------------------------------------------
moves = sa.Table(
    "moves",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("from_ref", sa.String(64), primary_key=True),  # "lead:45"
    sa.Column("to_ref", sa.String(64), nullable=False),  # "contact:123"
    sa.Column("organization_id", sa.BigInteger()),
    sa.Column("deal_id", sa.BigInteger()),
    sa.Column("moved_at", _TS),  # when Sell made the move (the conversion's created_at)
    sa.Column("recorded_at", _TS, nullable=False),
)
sa.Index("ix_moves_to", moves.c.tenant, moves.c.to_ref)

# --- added in v7 -------------------------------------------------------------------------------
category_ids = sa.Table(
    "category_ids",
    metadata,
    sa.Column("tenant", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),  # "Sell Person"
    sa.Column("category_id", sa.String(255), nullable=False),  # as the mailbox gave it
    sa.Column("updated_at", _TS, nullable=False),
)
