"""v1: links with their snapshots, create intents, runs, and the ``meta`` schema version.

Revision ID: v1
Revises:
Create Date: 2026-12-04

The ledger's first schema, from before Alembic. Times are ISO-8601 strings (``VARCHAR(40)``);
ids are BIGINT on PostgreSQL and INTEGER on SQLite, which autoincrements only that type.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v1"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(40)
meta = sa.table("meta", sa.column("key"), sa.column("value"))


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.execute(meta.insert().values(key="schema_version", value="1"))
    op.create_table(
        "links",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("exchange_id", sa.String(1024), nullable=False),
        sa.Column("sell_kind", sa.String(16), nullable=False),
        sa.Column("sell_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("retired_reason", sa.Text()),
        sa.Column("retired_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("base", sa.JSON()),
        sa.Column("exchange_values", sa.JSON()),
        sa.Column("exchange_fingerprint", sa.String(64)),
        sa.Column("exchange_modified", TS),
        sa.Column("exchange_change_key", sa.String(1024)),
        sa.Column("sell_values", sa.JSON()),
        sa.Column("sell_fingerprint", sa.String(64)),
        sa.Column("sell_updated_at", TS),
    )
    # One active link per record on each side (partial unique indexes), plus lookups.
    active = sa.text("status = 'active'")
    for name, columns in (
        ("uq_links_active_exchange", ["tenant", "exchange_id"]),
        ("uq_links_active_sell", ["tenant", "sell_kind", "sell_id"]),
    ):
        op.create_index(
            name, "links", columns, unique=True, sqlite_where=active, postgresql_where=active
        )
    op.create_index("ix_links_exchange", "links", ["tenant", "exchange_id"])
    op.create_index("ix_links_sell", "links", ["tenant", "sell_kind", "sell_id"])
    op.create_table(
        "intents",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("direction", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(1024), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
        sa.Column("payload_fingerprint", sa.String(64), nullable=False),
        sa.Column("source_values", sa.JSON()),
        sa.Column("source_modified", TS),
        sa.Column("source_change_key", sa.String(1024)),
        sa.Column("started_at", TS, nullable=False),
        sa.UniqueConstraint("tenant", "direction", "source_id", name="uq_intents_source"),
    )
    op.create_table(
        "runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("counts", sa.JSON()),
    )


def downgrade() -> None:
    for table in ("runs", "intents", "links", "meta"):
        op.drop_table(table)
