"""v4: per link, the version our last write replaced on each side (late replays, S7.2).

Revision ID: v4
Revises: v3
Create Date: 2026-12-04

The last schema from before Alembic: a ledger whose ``meta`` says schema_version 4 is stamped
with this revision when the ledger first opens it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v4"
down_revision: str | Sequence[str] | None = "v3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

meta = sa.table("meta", sa.column("key"), sa.column("value"))


def _schema_version(number: int) -> None:
    op.execute(meta.update().where(meta.c.key == "schema_version").values(value=str(number)))


def upgrade() -> None:
    op.add_column("links", sa.Column("exchange_superseded_key", sa.String(1024)))
    op.add_column("links", sa.Column("sell_superseded_values", sa.JSON()))
    _schema_version(4)


def downgrade() -> None:
    op.drop_column("links", "sell_superseded_values")
    op.drop_column("links", "exchange_superseded_key")
    _schema_version(3)
