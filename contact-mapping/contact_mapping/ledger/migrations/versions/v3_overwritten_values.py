"""v3: the queue of values that lost a conflict, to be kept in Sell (S5.2).

Revision ID: v3
Revises: v2
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v3"
down_revision: str | Sequence[str] | None = "v2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.String(40)
meta = sa.table("meta", sa.column("key"), sa.column("value"))


def _schema_version(number: int) -> None:
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(number)))


def upgrade() -> None:
    op.create_table(
        "overwritten_values",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(200), nullable=False),
        sa.Column("sell_kind", sa.String(16), nullable=False),
        sa.Column("sell_id", sa.BigInteger(), nullable=False),
        sa.Column("exchange_id", sa.String(1024)),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("value", sa.JSON()),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("origin_time", TS),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("delivered_at", TS),
    )
    op.create_index("ix_overwritten_pending", "overwritten_values", ["tenant", "status", "id"])
    _schema_version(3)


def downgrade() -> None:
    op.drop_table("overwritten_values")
    _schema_version(2)
