"""v6: Sell records that became others (a lead converted into a contact, S6).

Revision ID: v6
Revises: v5
Create Date: 2026-12-04

A new table only: older contact-mapping never reads it, so ``meta``'s schema_version stays 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v6"
down_revision: str | Sequence[str] | None = "v5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moves",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("from_ref", sa.String(64), primary_key=True),
        sa.Column("to_ref", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.BigInteger()),
        sa.Column("deal_id", sa.BigInteger()),
        sa.Column("moved_at", sa.String(40)),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_moves_to", "moves", ["tenant", "to_ref"])


def downgrade() -> None:
    op.drop_index("ix_moves_to", table_name="moves")
    op.drop_table("moves")
