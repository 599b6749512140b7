"""SQL helpers the ledger's table modules share: the time stamp, ``IN`` lists, upserts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

#: The databases the ledger runs on, with their upsert-capable ``INSERT`` constructs.
INSERTS: dict[str, Callable[[sa.Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert,
    "sqlite": sqlite.insert,
}
_CHUNK = 5_000  # bound on ids per IN (...) list; one query for any realistic batch


def now() -> str:
    """Times are ISO-8601 UTC strings so SQLite and PostgreSQL store and compare them alike."""
    return datetime.now(UTC).isoformat()


def in_chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` in slices short enough for one ``IN (...)`` list each."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The id the database gave the one row an ``INSERT`` added."""
    key = result.inserted_primary_key
    if key is None:
        msg = "the INSERT reported no primary key"
        raise RuntimeError(msg)
    return int(key[0])


def upsert(
    conn: sa.Connection, table: sa.Table, keys: list[str], update: dict[str, Any]
) -> sa.Executable:
    """``INSERT … ON CONFLICT (keys) DO UPDATE``; an ``update`` value None takes the new row's."""
    stmt = INSERTS[conn.dialect.name](table)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={k: (stmt.excluded[k] if v is None else v) for k, v in update.items()},
    )
