"""v7: the id the mailbox gave each Sell category (S3.2 over Microsoft Graph).

Revision ID: v7
Revises: v6
Create Date: 2026-12-04

Graph assigns a category's id itself (a created category cannot carry our stable GUID), so a
rename in Outlook can only be recognised by the id remembered from the run that created it. A new
table only: older contact-mapping never reads it, so ``meta``'s schema_version stays 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v7"
down_revision: str | Sequence[str] | None = "v6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category_ids",
        sa.Column("tenant", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("category_id", sa.String(255), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("category_ids")
