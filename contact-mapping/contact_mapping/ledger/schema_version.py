"""Is the ledger's schema current? One query, no Alembic: what every open but the first asks.

Importing Alembic (with Mako and Pygments, which it pulls in) costs each target about 0.15
CPU-seconds, a tenth of a quiet run; ``migrate`` is imported only when there is something to do.
``HEAD`` names the newest revision here, so finding it needs no Alembic either; a test checks it
is the head of ``migrations/versions`` (a new revision must move it).
"""

from __future__ import annotations

import sqlalchemy as sa

#: The newest revision in ``migrations/versions`` (tests/test_ledger_migrations.py checks it).
HEAD = "v7"
#: Alembic's version table, not ``alembic_version``: a database or schema shared with another
#: Alembic-managed application keeps both apart.
VERSION_TABLE = "ledger_alembic_version"
_ADVISORY_LOCK = 874325501  # any fixed number; one upgrade at a time per database


def lock(conn: sa.Connection) -> None:
    """Serialise upgrades: PostgreSQL advisory lock until the transaction ends (SQLite's
    ``BEGIN IMMEDIATE`` already holds the database's write lock)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def current_revision(conn: sa.Connection) -> str | None:
    """The revision stamped in the database, or None before Alembic (or when empty).

    Read directly rather than through Alembic's ``MigrationContext``, which logs two INFO lines
    per call, on every open of every run.
    """
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return None
    version = sa.table(VERSION_TABLE, sa.column("version_num"))
    return conn.execute(sa.select(version.c.version_num)).scalar()
