"""v5: a rejection is kept under the side its record came from (one meaning in both directions).

Revision ID: v5
Revises: v4
Create Date: 2026-12-04

Before the one sync engine, target-exchange kept a Sell record Exchange rejected under side
``exchange`` (the side that rejected) while target-sell-contacts kept an Exchange item Sell
rejected under ``exchange`` too (the side it came from). Both now use the source side, so
target-exchange's rows (record ids ``contact:N`` / ``lead:N``, never an EWS or Graph id) move to
``sell``. Data only: the tables are unchanged, so ``meta``'s schema_version stays 4.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v5"
down_revision: str | Sequence[str] | None = "v4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

rejections = sa.table("rejections", sa.column("side"), sa.column("record_id"))
_SELL_REF = sa.or_(rejections.c.record_id.like("contact:%"), rejections.c.record_id.like("lead:%"))


def upgrade() -> None:
    op.execute(
        rejections.update().where(rejections.c.side == "exchange", _SELL_REF).values(side="sell")
    )


def downgrade() -> None:
    op.execute(
        rejections.update().where(rejections.c.side == "sell", _SELL_REF).values(side="exchange")
    )
