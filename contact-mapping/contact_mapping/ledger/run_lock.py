"""One writing run per tenant and ledger (S15.2), wherever the runs were started.

The orchestrator's tenant lock only fences runs it starts itself. Two runs of one tenant started
from two machines, or one started by hand beside the orchestrator, meet in one place only: the
ledger's database. So a target holds a PostgreSQL session-level advisory lock keyed by the
ledger's schema and the tenant for its whole run, and a second target of that tenant refuses at
open, before it writes anything. The server lets the lock go the moment the holder's connection
ends, however its process died, so a crash never locks a tenant out.

SQLite needs nothing more than its file lock: a SQLite ledger is one file on one machine (the
orchestrator requires PostgreSQL), and every writing transaction takes the file's write lock.
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from contact_mapping.ledger.models import TenantBusyError

# Who holds the lock, if the server lets this session see it (pg_stat_activity of the same role).
_HOLDER = sa.text(
    "SELECT a.pid, a.client_addr, a.application_name, a.backend_start"
    " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.database = ("
    "   SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND l.classid = :classid AND l.objid = :objid AND l.objsubid = 1"
)


def lock_key(tenant: str, schema: str | None) -> int:
    """A signed 64-bit advisory-lock key; not the orchestrator's key for the same tenant."""
    digest = hashlib.sha256(f"contact-sync ledger {schema or ''} {tenant}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold(engine: sa.Engine, tenant: str, schema: str | None) -> sa.Connection | None:
    """Take the tenant's lock on a connection of its own (closing it lets the lock go), or
    raise TenantBusyError at once. None on SQLite, which needs no lock of this kind."""
    if engine.dialect.name != "postgresql":
        return None
    key = lock_key(tenant, schema)
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    conn.detach()  # out of the pool: closing it (or losing it) really ends the session
    try:
        if conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
            return conn
        holder = _holder(conn, key)
    except BaseException:
        conn.close()
        raise
    conn.close()
    msg = (
        f"tenant {tenant!r} is being synced by another run{holder} that holds its ledger "
        "lock; this run stops before writing anything (one run per tenant at a time, S15.2). "
        "It can run once the other run has finished."
    )
    raise TenantBusyError(msg)


def _holder(conn: sa.Connection, key: int) -> str:
    """' (PostgreSQL backend 123 from 10.0.0.5, since ...)', or '' when it cannot be seen."""
    row = conn.execute(
        _HOLDER, {"classid": (key >> 32) & 0xFFFFFFFF, "objid": key & 0xFFFFFFFF}
    ).first()
    if row is None or row.pid is None:
        return ""
    where = f" from {row.client_addr}" if row.client_addr else ""
    app = f" ({row.application_name})" if row.application_name else ""
    since = f", since {row.backend_start:%Y-%m-%d %H:%M:%S %Z}" if row.backend_start else ""
    return f" (PostgreSQL backend {row.pid}{app}{where}{since})"
