"""Opening the ledger's database: SQLite's locking, PostgreSQL's schema, read and write modes.

Two processes (the two targets) may use one database at once. SQLite runs in WAL mode with a
busy timeout and takes the write lock at the start of every writing transaction
(``BEGIN IMMEDIATE``); PostgreSQL relies on row locks (``SELECT … FOR UPDATE``) where a value is
read, changed and written back, and may keep the tables in a schema of their own.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option of a connection that only reads (SQLite: a plain, deferred ``BEGIN``).
READ_ONLY = "contact_mapping_read_only"
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def create_engine(url: sa.URL, schema: str | None, echo: bool) -> sa.Engine:
    """An engine for ``url`` (sqlite or postgresql, checked by the caller)."""
    if url.get_backend_name() == "sqlite":
        if schema:
            msg = "a ledger schema name is only supported on PostgreSQL"
            raise ValueError(msg)
        _make_sqlite_dir(url)
        engine = sa.create_engine(
            url, echo=echo, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _configure_sqlite(engine)
        return engine
    engine = sa.create_engine(url, echo=echo, pool_pre_ping=True)
    if schema:
        _use_schema(engine, schema)
    return engine


def create_schema(conn: sa.Connection, schema: str) -> None:
    """PostgreSQL: make the ledger's schema (the caller holds the upgrade lock)."""
    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def _make_sqlite_dir(url: sa.URL) -> None:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers lock up front: a deferred reader upgraded to writer in WAL mode fails with
        # SQLITE_BUSY_SNAPSHOT instead of waiting, which would lose or abort updates.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _wal(cursor: Any) -> None:
    """Switch to WAL. The switch needs the file alone for an instant, and SQLite answers
    'database is locked' at once (no busy handler) while another process opens the same new
    file: wait for it, within the busy timeout (seen with three first opens on a loaded box)."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _use_schema(engine: sa.Engine, schema: str) -> None:
    """Every connection works in ``schema`` (created with the tables, under the upgrade lock)."""
    if not _SCHEMA_NAME.match(schema):
        msg = f"invalid ledger schema name {schema!r}"
        raise ValueError(msg)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.commit()
