"""Ledger databases for tests: SQLite always, PostgreSQL when this machine's server answers.

The ledger's own tests and the end-to-end tests through Meltano both run on PostgreSQL when the
server at 127.0.0.1:5432 (trust auth, database ``test``) is reachable, and skip with the reason
when it is not, so a skipped PostgreSQL run is always visible in pytest's summary (``-ra``).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PG_URL = f"{PG_SERVER}/test"


@functools.cache
def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can (asked once per process)."""
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure means "not reachable" for the tests
        return f"PostgreSQL not reachable at 127.0.0.1:5432: {exc.__class__.__name__}: {exc}"
    return None


@contextmanager
def private_postgres_database(prefix: str = "ledger_test") -> Iterator[str]:
    """A new, empty database for one test (its URL), dropped afterwards even if still in use.

    A database rather than a schema: the plugins run in their own processes and are configured
    by URL only, exactly as a user configures a PostgreSQL ledger.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_SERVER}/{name}"
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
