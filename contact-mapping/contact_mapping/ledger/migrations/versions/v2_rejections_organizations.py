"""v2: rejections (S10.1), Sell organisation names, and the categories last written per link.

Revision ID: v2
Revises: v1
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v2"
down_revision: str | Sequence[str] | None = "v1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.String(40)
meta = sa.table("meta", sa.column("key"), sa.column("value"))


def _schema_version(number: int) -> None:
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(number)))


def upgrade() -> None:
    op.create_table(
        "rejections",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("side", sa.String(16), primary_key=True),
        sa.Column("record_id", sa.String(1024), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rejected_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"),
    )
    op.create_table(
        "organizations",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("sell_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.add_column("links", sa.Column("categories", sa.JSON()))
    _schema_version(2)


def downgrade() -> None:
    op.drop_column("links", "categories")
    op.drop_table("organizations")
    op.drop_table("rejections")
    _schema_version(1)
